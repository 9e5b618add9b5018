#pragma once
// Where a worker is in its life, as its WorkerThread reports it and the supervisor's policy
// reads it.

namespace pricepipe {

enum class WorkerState {
  kIdle,       // not started
  kRunning,
  kCompleted,  // finished its job (producer.count, consumer.exit_after, drained)
  kStopped,    // stopped on request
  kFailed,     // threw, or hit a fatal librdkafka error
};

const char* to_string(WorkerState state);

}  // namespace pricepipe
