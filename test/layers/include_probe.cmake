# CTest's layer_include_probe: compiles two one-line files the way a layer's own sources are
# compiled, against that layer's include tree (build/layer-include/LAYER, made by
# src/CMakeLists.txt). Including a header of a layer below must compile; including one of a
# layer above must fail because the header is not there. So an upward include breaks the
# build itself, not only scripts/check-layers.py.
#   cmake -DCXX=... -DROOTS=build/layer-include -DWORK=dir -P include_probe.cmake
foreach(var CXX ROOTS WORK)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "include_probe.cmake needs -D${var}=...")
  endif()
endforeach()

function(probe layer header expect)
  set(file ${WORK}/${layer}-probe.cpp)
  file(WRITE ${file} "#include \"${header}\"\n")
  execute_process(COMMAND ${CXX} -std=c++17 -fsyntax-only -I${ROOTS}/${layer} ${file}
                  RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(expect STREQUAL "compiles" AND NOT rc EQUAL 0)
    message(FATAL_ERROR "layer ${layer}: ${header} is below it but did not compile:\n${err}")
  elseif(expect STREQUAL "refused")
    if(rc EQUAL 0)
      message(FATAL_ERROR "layer ${layer}: ${header} is above it, yet it compiled")
    elseif(NOT err MATCHES "${header}: No such file")
      message(FATAL_ERROR "layer ${layer}: ${header} failed for another reason than the layer rule:\n${err}")
    endif()
  endif()
  message(STATUS "layer ${layer}: #include \"${header}\" ${expect}")
endfunction()

file(MAKE_DIRECTORY ${WORK})
probe(kafka pricepipe/event/price_ticks.hpp compiles)      # kafka -> config -> event
probe(kafka pricepipe/supervisor/supervisor.hpp refused)   # upward
probe(producer pricepipe/consumer/offset_book.hpp refused) # sideways
probe(supervisor pricepipe/consumer/offset_book.hpp compiles)
