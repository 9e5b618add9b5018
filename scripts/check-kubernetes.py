"""Checks the Kubernetes manifests in deploy/kubernetes/ (run by scripts/check-kubernetes.sh,
with the Python of its kubernetes-validate venv, which has PyYAML).

1. Schema: every manifest but kustomization.yaml and keda-scaledobject.yaml passes
   `kubernetes-validate --strict` (no unknown field anywhere) for one Kubernetes version; a
   resource whose kind has no schema (a typo'd kind, a custom resource) fails too, where the
   tool itself only warns.
2. The ConfigMap's supervisor.conf passes `pricepipe --check-config`, run as each Deployment
   runs it: the image's entrypoint option, the container's args (the --config path mapped to
   the extracted file through the volume mount), and a clean environment holding exactly the
   container's env, with dummy values for the Secret's keys and the downward API.
3. What the manifests promise, asserted on the effective config that run prints: the roles
   (producer.enabled=false in the consumer Deployment, consumer.enabled=false in the
   producer's), consumer.instance_id = the pod's name, /livez and /readyz on the HTTP port,
   terminationGracePeriodSeconds > shutdown_timeout_s, the liveness budget > the supervisor's
   stall timeout, security context, resources, a read-only directory mount of the ConfigMap,
   selectors, the PodDisruptionBudget, consumer replicas <= partitions, the Secret's keys, the
   kustomization, and the KEDA file's agreement with the rest (not schema-checked: KEDA's CRDs
   are not among kubernetes-validate's schemas).
4. The Prometheus Operator's resources, which kubernetes-validate has no schemas for either:
   prometheusrule.yaml is exactly what scripts/gen-prometheusrule.py generates from
   deploy/prometheus/pricepipe-rules.yml; it and podmonitor.yaml pass the openAPIV3Schema of
   the operator's CRDs (--crd-dir; made strict as `kubectl --validate=strict` is: no unknown
   field), in a version the CRD serves; the PodMonitor selects the pods of both Deployments, on
   a container port they name, at /metrics, and gives them the job the rules select
   (up{job="..."}).

--self-test then breaks a copy of the manifests in known ways, one at a time, and fails unless
each breakage is reported: so the checks above cannot silently stop checking.

    python3 scripts/check-kubernetes.py --binary build/pricepipe --validator VENV/bin/kubernetes-validate
        --crd-dir DIR [--kubernetes-version 1.34.0] [--dir deploy/kubernetes] [--self-test]
"""

import argparse
import configparser
import copy as copying
import importlib.util
import os
import re
import subprocess
import sys
import tempfile

import jsonschema
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mutation_self_test  # noqa: E402

NOT_SCHEMA_CHECKED = {
    "kustomization.yaml": "read by kustomize, not an API object",
    "keda-scaledobject.yaml": "KEDA's custom resources have no schema in kubernetes-validate",
    "prometheusrule.yaml": "checked against the Prometheus Operator's CRD schema instead",
    "podmonitor.yaml": "checked against the Prometheus Operator's CRD schema instead",
}
# Files deliberately left out of kustomization.yaml (see the comment there).
NOT_IN_KUSTOMIZATION = {"secret.yaml", "keda-scaledobject.yaml", "prometheusrule.yaml", "podmonitor.yaml"}
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RULES = os.path.join(ROOT, "deploy", "prometheus", "pricepipe-rules.yml")
# The Prometheus Operator's resources and the files of their CRDs in --crd-dir.
OPERATOR_CRDS = {
    "prometheusrule.yaml": ("PrometheusRule", "monitoring.coreos.com_prometheusrules.yaml"),
    "podmonitor.yaml": ("PodMonitor", "monitoring.coreos.com_podmonitors.yaml"),
}
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
# The image's ENTRYPOINT (Dockerfile): pricepipe --supervisor.http_port=8080
ENTRYPOINT_OPTIONS = ["--supervisor.http_port=8080"]
CONSUMER_FILE = "consumer-deployment.yaml"
PRODUCER_FILE = "producer-deployment.yaml"


class Checker:
    def __init__(self, directory, binary, validator, version, work, crd_dir):
        self.dir = directory
        self.crd_dir = crd_dir
        self.binary = binary
        self.validator = validator
        self.version = version
        self.work = work
        self.problems = []

    def problem(self, text):
        self.problems.append(text)

    def expect(self, condition, text):
        if not condition:
            self.problem(text)
        return condition

    # -- loading --------------------------------------------------------------------------

    def manifest_files(self):
        return sorted(f for f in os.listdir(self.dir) if f.endswith((".yaml", ".yml")))

    def load(self, name):
        with open(os.path.join(self.dir, name)) as f:
            return [d for d in yaml.safe_load_all(f) if d]

    def one(self, name, kind):
        docs = [d for d in self.load(name) if d.get("kind") == kind]
        if len(docs) != 1:
            raise SystemExit(f"check-kubernetes: {name} must hold exactly one {kind}, holds {len(docs)}")
        return docs[0]

    # -- 1. schema ------------------------------------------------------------------------

    def check_schema(self):
        files = [f for f in self.manifest_files() if f not in NOT_SCHEMA_CHECKED]
        run = subprocess.run([self.validator, "--strict", "-k", self.version] + files, cwd=self.dir,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        bad = [line for line in run.stdout.splitlines() if not line.startswith("INFO ")]
        passed = [line for line in run.stdout.splitlines() if line.startswith("INFO ")]
        # kubernetes-validate only warns (exit 0) about a kind it has no schema for.
        if run.returncode != 0 or bad:
            self.problem("kubernetes-validate --strict -k %s failed (exit %d):\n  %s"
                         % (self.version, run.returncode, "\n  ".join(bad) or run.stdout))
        return files, len(passed)

    # -- 2. pricepipe --check-config as each Deployment runs it -----------------------------

    def run_check_config(self, deployment, configmap, secret, pod_name):
        name = deployment["metadata"]["name"]
        pod = deployment["spec"]["template"]["spec"]
        containers = pod.get("containers", [])
        if not self.expect(len(containers) == 1 and containers[0].get("name") == "pricepipe",
                           f"{name}: expected one container named pricepipe"):
            return None, None
        c = containers[0]
        self.expect("command" not in c, f"{name}: `command` replaces the image's entrypoint "
                    "(and its --supervisor.http_port=8080); set args only")
        self.expect("envFrom" not in c, f"{name}: envFrom is not followed by this check; use env")

        # The environment, exactly as the container gets it.
        env = {}
        secret_data = dict(secret.get("stringData", {}), **secret.get("data", {}))
        for e in c.get("env", []):
            var = e["name"]
            if "value" in e:
                env[var] = str(e["value"])
                continue
            source = e.get("valueFrom", {})
            if "fieldRef" in source:
                path = source["fieldRef"].get("fieldPath")
                env[var] = pod_name if path == "metadata.name" else f"dummy-{path}"
            elif "configMapKeyRef" in source:
                ref = source["configMapKeyRef"]
                if self.expect(ref.get("name") == configmap["metadata"]["name"]
                               and ref.get("key") in configmap.get("data", {}),
                               f"{name}: env {var} names ConfigMap {ref.get('name')} key "
                               f"{ref.get('key')}, which configmap.yaml does not have"):
                    env[var] = configmap["data"][ref["key"]]
            elif "secretKeyRef" in source:
                ref = source["secretKeyRef"]
                if self.expect(ref.get("name") == secret["metadata"]["name"]
                               and ref.get("key") in secret_data,
                               f"{name}: env {var} names Secret {ref.get('name')} key "
                               f"{ref.get('key')}, which secret.yaml does not have"):
                    env[var] = f"dummy-{ref['key'].lower()}"
            else:
                self.problem(f"{name}: env {var}: valueFrom {list(source)} not followed by this check")

        # The args, with Kubernetes' own $(VAR) expansion, and --config mapped to the file the
        # ConfigMap volume puts there.
        def k8s_expand(arg):
            return re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env.get(m.group(1), m.group(0)), arg)
        args = [k8s_expand(str(a)) for a in c.get("args", [])]
        config_path = None
        for i, a in enumerate(args):
            if a == "--config" and i + 1 < len(args):
                config_path = args[i + 1]
            elif a.startswith("--config="):
                config_path = a.split("=", 1)[1]
        if not self.expect(config_path, f"{name}: args do not name --config"):
            return None, None
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        source_key = None
        for m in c.get("volumeMounts", []):
            mount = m["mountPath"].rstrip("/")
            if mount == config_path:  # the file itself
                self.problem(f"{name}: the config is mounted as a single file (subPath), which never "
                             "sees a ConfigMap update; mount the directory")
                wanted = m.get("subPath", "")
            elif mount == os.path.dirname(config_path):
                wanted = os.path.basename(config_path)
            else:
                continue
            self.expect(m.get("readOnly") is True, f"{name}: the config mount {mount} is not readOnly")
            cm = volumes.get(m["name"], {}).get("configMap")
            if not self.expect(cm and cm.get("name") == configmap["metadata"]["name"],
                               f"{name}: {mount} is not a mount of ConfigMap {configmap['metadata']['name']}"):
                continue
            items = cm.get("items")
            if items is None:
                source_key = wanted
            else:
                source_key = next((it["key"] for it in items if it.get("path") == wanted), None)
        if not self.expect(source_key and source_key in configmap.get("data", {}),
                           f"{name}: --config {config_path} is not a file of the ConfigMap's volume"):
            return None, None
        conf_file = os.path.join(self.work, f"{name}.conf")
        with open(conf_file, "w") as f:
            f.write(configmap["data"][source_key])

        argv = [self.binary] + ENTRYPOINT_OPTIONS + [
            conf_file if a == config_path else ("--config=" + conf_file if a == "--config=" + config_path else a)
            for a in args] + ["--check-config"]
        # Nothing of this machine's environment but PATH (and the sanitizers' options in the
        # ASan/TSan builds), so no variable set here can stand in for one the pod lacks.
        clean_env = {k: v for k, v in os.environ.items() if k == "PATH" or k.endswith("SAN_OPTIONS")}
        clean_env.update(env)
        run = subprocess.run(argv, env=clean_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if not self.expect(run.returncode == 0,
                           f"{name}: pricepipe --check-config on the ConfigMap's supervisor.conf with the "
                           f"Deployment's args and env exits {run.returncode}:\n  {run.stderr.strip()}"):
            return None, c
        parser = configparser.ConfigParser(interpolation=None, delimiters=("=",))
        parser.optionxform = str
        parser.read_string(run.stdout)
        effective = {f"{s}.{k}": v for s in parser.sections() for k, v in parser[s].items()}
        return effective, c

    # -- 3. what the manifests promise ---------------------------------------------------

    def check_pod(self, deployment, c, effective, role):
        name = deployment["metadata"]["name"]
        spec = deployment["spec"]
        pod = spec["template"]["spec"]
        labels = spec["template"]["metadata"].get("labels", {})
        selector = spec["selector"].get("matchLabels", {})
        self.expect(selector and all(labels.get(k) == v for k, v in selector.items()),
                    f"{name}: selector {selector} does not match the pod labels {labels}")

        other = "consumer" if role == "producer" else "producer"
        self.expect(effective.get(f"{role}.enabled") == "true", f"{name}: {role}.enabled is not true")
        self.expect(effective.get(f"{other}.enabled") == "false",
                    f"{name}: {other}.enabled={effective.get(other + '.enabled')}, must be false in the {role} Deployment")

        # HTTP port and probes
        port = effective.get("supervisor.http_port")
        ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
        self.expect(str(port) in {str(p) for p in ports.values()},
                    f"{name}: supervisor.http_port={port} is not a containerPort {list(ports.values())}")
        for probe, path in (("livenessProbe", "/livez"), ("readinessProbe", "/readyz")):
            get = c.get(probe, {}).get("httpGet")
            if not self.expect(get, f"{name}: no {probe} with httpGet"):
                continue
            self.expect(get.get("path") == path, f"{name}: {probe} path is {get.get('path')}, must be {path}")
            probe_port = ports.get(get.get("port"), get.get("port"))
            self.expect(str(probe_port) == str(port),
                        f"{name}: {probe} port {get.get('port')} is not supervisor.http_port {port}")
        live = c.get("livenessProbe", {})
        budget = live.get("periodSeconds", 10) * live.get("failureThreshold", 3)
        stall = int(effective.get("supervisor.stall_timeout_s", 0))
        self.expect(budget > stall, f"{name}: livenessProbe gives up after {budget} s, not above "
                    f"supervisor.stall_timeout_s ({stall} s): the kubelet would restart what the supervisor restarts")

        grace = pod.get("terminationGracePeriodSeconds", 30)
        shutdown = int(effective.get("supervisor.shutdown_timeout_s", 10))
        self.expect(grace > shutdown, f"{name}: terminationGracePeriodSeconds {grace} is not above "
                    f"supervisor.shutdown_timeout_s {shutdown}: a graceful stop would be killed")

        # Security context (pod level or container level) and resources
        psc, csc = pod.get("securityContext", {}), c.get("securityContext", {})
        either = lambda key: csc.get(key, psc.get(key))
        self.expect(either("runAsNonRoot") is True, f"{name}: runAsNonRoot is not true")
        uid = either("runAsUser")
        self.expect(isinstance(uid, int) and uid > 0, f"{name}: runAsUser must be the image's numeric "
                    "non-root uid (the image names its user, which runAsNonRoot cannot check)")
        self.expect((either("seccompProfile") or {}).get("type") == "RuntimeDefault",
                    f"{name}: seccompProfile is not RuntimeDefault")
        self.expect(csc.get("readOnlyRootFilesystem") is True, f"{name}: readOnlyRootFilesystem is not true")
        self.expect(csc.get("allowPrivilegeEscalation") is False, f"{name}: allowPrivilegeEscalation is not false")
        self.expect("ALL" in (csc.get("capabilities") or {}).get("drop", []), f"{name}: capabilities do not drop ALL")
        res = c.get("resources", {})
        for kind in ("requests", "limits"):
            for r in ("cpu", "memory"):
                self.expect(r in res.get(kind, {}), f"{name}: resources.{kind}.{r} is not set")

    def check(self):
        files = self.manifest_files()
        schema_files, passed = self.check_schema()

        configmap = self.one("configmap.yaml", "ConfigMap")
        secret = self.one("secret.yaml", "Secret")
        consumer = self.one(CONSUMER_FILE, "Deployment")
        producer = self.one(PRODUCER_FILE, "Deployment")
        pdb = self.one("pdb.yaml", "PodDisruptionBudget")

        pod_name = consumer["metadata"]["name"] + "-7d4b9c8f6d-x2k9q"  # what a Deployment names a pod
        eff_c, c_c = self.run_check_config(consumer, configmap, secret, pod_name)
        eff_p, c_p = self.run_check_config(producer, configmap, secret, producer["metadata"]["name"] + "-5f6d7c8b9-q8w7e")
        if eff_c:
            self.check_pod(consumer, c_c, eff_c, "consumer")
            env = {e["name"]: e for e in c_c.get("env", [])}
            self.expect(env.get("POD_NAME", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "metadata.name",
                        f"{consumer['metadata']['name']}: env POD_NAME does not come from the downward API's metadata.name")
            self.expect(eff_c.get("consumer.instance_id") == pod_name,
                        f"{consumer['metadata']['name']}: consumer.instance_id is "
                        f"'{eff_c.get('consumer.instance_id')}', not the pod's name (static members must be unique)")
            self.expect(eff_c.get("consumer.group_protocol") == "consumer",
                        f"{consumer['metadata']['name']}: consumer.group_protocol is "
                        f"'{eff_c.get('consumer.group_protocol')}', not consumer (the brokers are Kafka 4.x: KIP-848)")
            partitions = int(eff_c["kafka.partitions"])
            replicas = consumer["spec"].get("replicas", 1)
            self.expect(replicas <= partitions, f"{consumer['metadata']['name']}: {replicas} replicas for "
                        f"{partitions} partitions: the extra replicas would get nothing")
            self.expect(eff_c.get("kafka.brokers") == configmap["data"].get("KAFKA_BROKERS"),
                        "kafka.brokers does not come from the ConfigMap's KAFKA_BROKERS")
        if eff_p:
            self.check_pod(producer, c_p, eff_p, "producer")

        # The two Deployments must not select each other's pods; the PDB selects consumers only.
        def selects(selector, deployment):
            labels = deployment["spec"]["template"]["metadata"].get("labels", {})
            return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())
        self.expect(not selects(consumer["spec"]["selector"], producer)
                    and not selects(producer["spec"]["selector"], consumer),
                    "the consumer and producer Deployments' selectors overlap")
        sel = pdb["spec"].get("selector", {})
        self.expect(sel.get("matchLabels") and selects(sel, consumer) and not selects(sel, producer),
                    "the PodDisruptionBudget does not select exactly the consumer pods")
        if "minAvailable" in pdb["spec"]:
            self.expect(isinstance(pdb["spec"]["minAvailable"], int)
                        and pdb["spec"]["minAvailable"] < consumer["spec"].get("replicas", 1),
                        "the PodDisruptionBudget's minAvailable leaves no disruption allowed")
        else:
            self.expect(pdb["spec"].get("maxUnavailable", 0) not in (0, "0%"),
                        "the PodDisruptionBudget allows no disruption")

        # One image; kustomization.yaml's images entry names it.
        images = {c["image"] for d in (consumer, producer) for c in d["spec"]["template"]["spec"]["containers"]}
        self.expect(len(images) == 1, f"the Deployments run different images: {sorted(images)}")
        kustomization = self.load("kustomization.yaml")[0]
        listed = kustomization.get("resources", [])
        for r in listed:
            self.expect(r in files, f"kustomization.yaml lists {r}, which does not exist")
        for f in files:
            if f != "kustomization.yaml" and f not in NOT_IN_KUSTOMIZATION:
                self.expect(f in listed, f"kustomization.yaml does not list {f}")
        for f in NOT_IN_KUSTOMIZATION:
            self.expect(f not in listed, f"kustomization.yaml lists {f}, which must be applied by hand (see there)")
        names = {i.get("name") for i in kustomization.get("images", [])}
        self.expect(all(i.rsplit(":", 1)[0] in names for i in images),
                    f"kustomization.yaml's images {sorted(names)} do not name the Deployments' image {sorted(images)}")

        if eff_c:
            self.check_keda(consumer, c_c, eff_c, secret)
        self.check_operator_resources(consumer, producer, eff_c or eff_p or {})
        return schema_files, passed

    # -- 4. the Prometheus Operator's resources -------------------------------------------

    def check_operator_resources(self, consumer, producer, effective):
        # prometheusrule.yaml is generated: it must be exactly what the generator makes now.
        spec = importlib.util.spec_from_file_location("gen_prometheusrule",
                                                      os.path.join(ROOT, "scripts", "gen-prometheusrule.py"))
        gen = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(gen)
        with open(os.path.join(self.dir, "prometheusrule.yaml")) as f:
            self.expect(f.read() == gen.generate(RULES),
                        "prometheusrule.yaml differs from what scripts/gen-prometheusrule.py generates from "
                        "deploy/prometheus/pricepipe-rules.yml: edit the rules file, then run "
                        "`python3 scripts/gen-prometheusrule.py`")

        for name, (kind, crd_file) in OPERATOR_CRDS.items():
            with open(os.path.join(self.crd_dir, crd_file)) as f:
                crd = yaml.safe_load(f)
            for doc in self.load(name):
                self.check_custom_resource(name, doc, crd)

        monitor = self.one("podmonitor.yaml", "PodMonitor")
        spec = monitor.get("spec", {})
        selector = spec.get("selector", {})
        self.expect(not selector.get("matchExpressions"),
                    "podmonitor.yaml: selector.matchExpressions is not followed by this check; use matchLabels")
        match = selector.get("matchLabels") or {}
        self.expect(match, "podmonitor.yaml: the PodMonitor's selector has no matchLabels")
        self.expect("namespaceSelector" not in spec,
                    "podmonitor.yaml: a namespaceSelector: the PodMonitor is meant for its own namespace, "
                    "the Deployments' (kubectl apply -f in the same namespace)")
        with open(RULES) as f:
            rule_jobs = set(re.findall(r'\bup\{job="([^"]*)"\}', f.read()))
        self.expect(len(rule_jobs) == 1,
                    f"deploy/prometheus/pricepipe-rules.yml selects up{{job=...}} with {sorted(rule_jobs)}, not one job")
        http_port = str(effective.get("supervisor.http_port", ""))
        for deployment in (consumer, producer):
            dname = deployment["metadata"]["name"]
            template = deployment["spec"]["template"]
            labels = template["metadata"].get("labels", {})
            if not self.expect(match and all(labels.get(k) == v for k, v in match.items()),
                               f"podmonitor.yaml: the PodMonitor's selector {match} does not select the pods "
                               f"of {dname} (labels {labels})"):
                continue
            ports = {p.get("name"): p.get("containerPort")
                     for c in template["spec"].get("containers", []) for p in c.get("ports", [])}
            for endpoint in spec.get("podMetricsEndpoints", []):
                port = endpoint.get("port")
                self.expect(port in ports, f"podmonitor.yaml: port {port} is not a container port name of "
                            f"{dname} ({sorted(ports)})")
                if port in ports and http_port:
                    self.expect(str(ports[port]) == http_port,
                                f"podmonitor.yaml: port {port} of {dname} is {ports[port]}, not "
                                f"supervisor.http_port {http_port}")
                self.expect(endpoint.get("path", "/metrics") == "/metrics",
                            f"podmonitor.yaml: path {endpoint.get('path')} is not /metrics")
                # The job: a relabeling that sets it, or else jobLabel's pod label, or else the
                # operator's default (namespace/name), which no rule selects.
                job = None
                for r in endpoint.get("relabelings", []):
                    if r.get("targetLabel") == "job" and r.get("action", "replace").lower() == "replace":
                        job = r.get("replacement")
                if job is None and spec.get("jobLabel"):
                    job = labels.get(spec["jobLabel"])
                if job is None:
                    job = f"<namespace>/{monitor['metadata'].get('name')}"
                self.expect(job in rule_jobs, f"podmonitor.yaml: the pods of {dname} get job={job}, but the "
                            f"alerts select job={'/'.join(sorted(rule_jobs))} (jobLabel or a relabeling of job)")

    def check_custom_resource(self, name, doc, crd):
        kind = doc.get("kind")
        title = f"{name}: {kind} {doc.get('metadata', {}).get('name')}"
        names = crd["spec"]["names"]
        if not self.expect(kind == names["kind"], f"{name}: kind {kind} is not {names['kind']}"):
            return
        group = crd["spec"]["group"]
        served = {f"{group}/{v['name']}": v for v in crd["spec"]["versions"] if v.get("served")}
        version = served.get(doc.get("apiVersion"))
        if not self.expect(version, f"{title}: apiVersion {doc.get('apiVersion')} is not served by the CRD "
                           f"({', '.join(sorted(served))})"):
            return
        meta = doc.get("metadata") or {}
        self.expect(set(meta) <= {"name", "namespace", "labels", "annotations"},
                    f"{title}: metadata fields {sorted(set(meta) - {'name', 'namespace', 'labels', 'annotations'})} "
                    "are not expected here")
        self.expect(isinstance(meta.get("name"), str) and len(meta["name"]) <= 253
                    and DNS_SUBDOMAIN.match(meta["name"]), f"{title}: metadata.name is not a DNS subdomain")
        for key in ("labels", "annotations"):
            self.expect(all(isinstance(k, str) and isinstance(v, str) for k, v in (meta.get(key) or {}).items()),
                        f"{title}: metadata.{key} must map strings to strings")
        body = {k: v for k, v in doc.items() if k != "metadata"}
        validator = jsonschema.Draft4Validator(strict_schema(version["schema"]["openAPIV3Schema"]))
        for error in sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path)):
            where = "/".join(str(p) for p in error.absolute_path) or "(top)"
            self.problem(f"{title}: against the CRD's schema ({crd['metadata']['name']}), at {where}: {error.message}")

    def check_keda(self, consumer, container, effective, secret):
        docs = self.load("keda-scaledobject.yaml")
        scaled = [d for d in docs if d.get("kind") == "ScaledObject"]
        auths = {d["metadata"]["name"]: d for d in docs if d.get("kind") == "TriggerAuthentication"}
        if not self.expect(len(scaled) == 1, "keda-scaledobject.yaml must hold one ScaledObject"):
            return
        spec = scaled[0].get("spec", {})
        ref = spec.get("scaleTargetRef", {})
        self.expect(ref.get("name") == consumer["metadata"]["name"] and ref.get("kind", "Deployment") == "Deployment",
                    f"the ScaledObject scales {ref}, not the consumer Deployment")
        partitions = int(effective["kafka.partitions"])
        self.expect(spec.get("maxReplicaCount") == partitions,
                    f"the ScaledObject's maxReplicaCount {spec.get('maxReplicaCount')} is not kafka.partitions ({partitions})")
        self.expect(1 <= spec.get("minReplicaCount", 0) <= spec.get("maxReplicaCount", 0),
                    "the ScaledObject's minReplicaCount is not between 1 and maxReplicaCount")
        triggers = spec.get("triggers", [])
        if not self.expect(len(triggers) == 1 and triggers[0].get("type") == "kafka",
                           "the ScaledObject must have one trigger of type kafka"):
            return
        meta = triggers[0].get("metadata", {})
        self.expect(meta.get("consumerGroup") == effective["consumer.group_id"],
                    f"the ScaledObject's consumerGroup {meta.get('consumerGroup')} is not consumer.group_id")
        self.expect(meta.get("topic") == effective["kafka.topic"],
                    f"the ScaledObject's topic {meta.get('topic')} is not kafka.topic")
        env_names = {e["name"] for e in container.get("env", [])}
        self.expect(meta.get("bootstrapServersFromEnv") in env_names,
                    "the ScaledObject's bootstrapServersFromEnv is not a variable of the consumer container")
        self.expect(meta.get("offsetResetPolicy") == "earliest",
                    "the ScaledObject's offsetResetPolicy must be earliest, as pricepipe's auto.offset.reset")
        self.expect(int(meta.get("lagThreshold", 0)) > 0, "the ScaledObject's lagThreshold is not a positive number")
        mechanism = {"SCRAM-SHA-512": "scram_sha512", "SCRAM-SHA-256": "scram_sha256", "PLAIN": "plaintext"}
        want_sasl = mechanism.get(effective.get("librdkafka.sasl.mechanism"))
        protocol = effective.get("librdkafka.security.protocol", "plaintext").upper()
        if protocol.startswith("SASL"):
            self.expect(meta.get("sasl") == want_sasl, f"the ScaledObject's sasl {meta.get('sasl')} does not "
                        f"match librdkafka.sasl.mechanism ({want_sasl})")
        self.expect((meta.get("tls") == "enable") == protocol.endswith("SSL"),
                    f"the ScaledObject's tls {meta.get('tls')} does not match librdkafka.security.protocol {protocol}")
        auth = auths.get(triggers[0].get("authenticationRef", {}).get("name"))
        if self.expect(auth, "the ScaledObject's authenticationRef names no TriggerAuthentication of the file"):
            secret_data = dict(secret.get("stringData", {}), **secret.get("data", {}))
            refs = {r.get("parameter"): r for r in auth.get("spec", {}).get("secretTargetRef", [])}
            for parameter in ("username", "password"):
                r = refs.get(parameter, {})
                self.expect(r.get("name") == secret["metadata"]["name"] and r.get("key") in secret_data,
                            f"the TriggerAuthentication's {parameter} is not a key of the Secret in secret.yaml")


# -- self-test: each breakage must be reported ---------------------------------------------

MUTATIONS = [
    # (what, file, old, new, expected substring of a problem)
    ("a typo'd field (strict schema)", CONSUMER_FILE, "path: /livez", "paht: /livez", "'paht' was unexpected"),
    ("a typo'd kind (no schema: the tool only warns)", CONSUMER_FILE, "kind: Deployment", "kind: Deploymnet",
     "Couldn't find schema"),
    ("liveness on the readiness endpoint (restarts pods while the brokers are down)", CONSUMER_FILE,
     "path: /livez", "path: /readyz", "livenessProbe path is /readyz"),
    ("readiness on the liveness endpoint", PRODUCER_FILE, "path: /readyz", "path: /livez",
     "readinessProbe path is /livez"),
    ("a wrong probe port", PRODUCER_FILE, "path: /livez\n              port: 8080", "path: /livez\n              port: 9090",
     "livenessProbe port"),
    ("a grace period below the shutdown bound", CONSUMER_FILE, "terminationGracePeriodSeconds: 30",
     "terminationGracePeriodSeconds: 10", "terminationGracePeriodSeconds 10"),
    ("a shutdown bound above the grace period", "configmap.yaml", "shutdown_timeout_s = 10",
     "shutdown_timeout_s = 45", "supervisor.shutdown_timeout_s 45"),
    ("the consumer Deployment producing too", CONSUMER_FILE, "--producer.enabled=false", "--producer.rate=10",
     "producer.enabled=true, must be false"),
    ("the instance id not from the pod's name", CONSUMER_FILE, "fieldPath: metadata.name", "fieldPath: metadata.uid",
     "not the pod's name"),
    ("an unset ${VAR} in the config", "configmap.yaml", "${KAFKA_SASL_PASSWORD}", "${KAFKA_SASL_PASSWD}",
     "KAFKA_SASL_PASSWD is not set"),
    ("a Secret key the pods need missing", "secret.yaml", "KAFKA_SASL_PASSWORD: change-me", "KAFKA_PASSWORD: change-me",
     "which secret.yaml does not have"),
    ("a subPath mount of the config", CONSUMER_FILE, "mountPath: /etc/pricepipe\n",
     "mountPath: /etc/pricepipe/supervisor.conf\n              subPath: supervisor.conf\n", "subPath"),
    ("a writable root filesystem", PRODUCER_FILE, "readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false",
     "readOnlyRootFilesystem is not true"),
    ("a PodDisruptionBudget selecting nothing", "pdb.yaml", "app.kubernetes.io/component: consumer",
     "app.kubernetes.io/component: consumers", "PodDisruptionBudget does not select"),
    ("the consumers on the classic group protocol", "configmap.yaml", "group_protocol = consumer",
     "group_protocol = classic", "not consumer (the brokers are Kafka 4.x"),
    ("more consumer replicas than partitions", CONSUMER_FILE, "replicas: 3", "replicas: 5", "5 replicas for 3 partitions"),
    ("KEDA scaling past the partitions", "keda-scaledobject.yaml", "maxReplicaCount: 3", "maxReplicaCount: 6",
     "maxReplicaCount 6"),
    ("the PrometheusRule edited by hand, not generated", "prometheusrule.yaml", "(pricepipe_consumer_lag) > 10000",
     "(pricepipe_consumer_lag) > 20000", "differs from what scripts/gen-prometheusrule.py generates"),
    ("a typo'd field in the PrometheusRule (the operator's CRD schema)", "prometheusrule.yaml", "    rules:\n",
     "    rulez:\n", "'rulez' was unexpected"),
    ("a PrometheusRule version the CRD does not serve", "prometheusrule.yaml",
     "monitoring.coreos.com/v1\nkind: PrometheusRule", "monitoring.coreos.com/v1beta1\nkind: PrometheusRule",
     "is not served by the CRD"),
    ("a typo'd field in the PodMonitor (the operator's CRD schema)", "podmonitor.yaml", "podMetricsEndpoints:",
     "podMetricEndpoints:", "'podMetricEndpoints' was unexpected"),
    ("a wrong type in the PodMonitor (the operator's CRD schema)", "podmonitor.yaml", "interval: 30s",
     "interval: 30", "30 is not of type 'string'"),
    ("a PodMonitor on a port the pods do not name", "podmonitor.yaml", "- port: http", "- port: metrics",
     "port metrics is not a container port name"),
    ("a PodMonitor selecting the consumers only", "podmonitor.yaml",
     "    matchLabels:\n      app.kubernetes.io/name: pricepipe\n",
     "    matchLabels:\n      app.kubernetes.io/name: pricepipe\n      app.kubernetes.io/component: consumer\n",
     "does not select the pods of pricepipe-producer"),
    ("a PodMonitor giving a job the alerts do not select", "podmonitor.yaml", "jobLabel: app.kubernetes.io/name",
     "jobLabel: app.kubernetes.io/component", "get job=consumer, but the alerts select job=pricepipe"),
]


def strict_schema(schema):
    """An openAPIV3Schema made strict: no property it does not name, except where it preserves
    unknown fields (the API server prunes or, with strict field validation, refuses them). Go's
    inline (?i) flags moved to the start for Python's re."""
    schema = copying.deepcopy(schema)

    def walk(node):
        if isinstance(node, list):
            for item in node:
                walk(item)
            return
        if not isinstance(node, dict):
            return
        if ("properties" in node and "additionalProperties" not in node
                and not node.get("x-kubernetes-preserve-unknown-fields")):
            node["additionalProperties"] = False
        if isinstance(node.get("pattern"), str) and "(?i)" in node["pattern"]:
            node["pattern"] = "(?i)" + node["pattern"].replace("(?i)", "")
        for key in ("properties", "patternProperties"):
            for sub in (node.get(key) or {}).values():
                walk(sub)
        for key in ("items", "additionalProperties", "not", "anyOf", "allOf", "oneOf"):
            walk(node.get(key))
    walk(schema)
    return schema


def self_test(args):
    def problems_of(copy, tmp):
        work = os.path.join(tmp, "work")
        os.mkdir(work)
        checker = Checker(copy, args.binary, args.validator, args.kubernetes_version, work, args.crd_dir)
        try:
            checker.check()
        except SystemExit as e:  # a manifest too broken to read: reported all the same
            checker.problem(str(e))
        return checker.problems
    return mutation_self_test.run("check-kubernetes", args.dir, "manifests", MUTATIONS, problems_of,
                                  replace_all=True)


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", required=True)
    parser.add_argument("--validator", required=True)
    parser.add_argument("--kubernetes-version", default="1.34.0")
    parser.add_argument("--crd-dir", required=True,
                        help="holds the Prometheus Operator's CRDs " + ", ".join(f for _, f in OPERATOR_CRDS.values()))
    parser.add_argument("--dir", default=os.path.join(root, "deploy", "kubernetes"))
    parser.add_argument("--self-test", action="store_true")
    args = parser.parse_args()
    args.binary = os.path.abspath(args.binary)

    with tempfile.TemporaryDirectory() as work:
        checker = Checker(args.dir, args.binary, args.validator, args.kubernetes_version, work, args.crd_dir)
        schema_files, passed = checker.check()
    for p in checker.problems:
        print(f"check-kubernetes: {p}", file=sys.stderr)
    if checker.problems:
        return 1
    print(f"check-kubernetes: {passed} resources in {', '.join(schema_files)} pass kubernetes-validate "
          f"--strict for Kubernetes {args.kubernetes_version}; the ConfigMap's supervisor.conf passes "
          f"--check-config as both Deployments run it; probes, grace period, roles, instance id, "
          f"PodDisruptionBudget, security context, kustomization and the KEDA file agree; "
          f"{', '.join(OPERATOR_CRDS)} pass the Prometheus Operator's CRD schemas, the PrometheusRule is "
          f"generated from the rules file, the PodMonitor scrapes both Deployments with the rules' job",
          file=sys.stderr)
    if args.self_test:
        failures = self_test(args)
        if failures:
            print(f"check-kubernetes: self-test: {failures} of {len(MUTATIONS)} breakages not caught", file=sys.stderr)
            return 1
        print(f"check-kubernetes: self-test: all {len(MUTATIONS)} breakages caught", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
