"""The sweep benchmark of `make bench` (issue 12): `corebound sweep` over --sweep resources of
each of the ten swept types (10 000 by default) in the local emulator, measured two ways.

1. Compliant account: every resource carries the five tags and, where the type takes one, the
   CMK. `corebound sweep --mode report`. Targets: 0 writes, read calls per resource <= 1.2 on
   average (counted in the emulator's request log: operations named Get*, List*, Describe*,
   Head*; the rest are writes), peak RSS of the sweeping process <= 64 MiB (ru_maxrss of the
   `corebound` process, from wait4), and the wall time.
2. Half non-compliant: every second resource lacks the tags and, where the remediator can switch
   it, the CMK. `corebound sweep --mode enforce`. Target: every one fixed, checked twice: the
   report's `fixed` count equals the number seeded non-compliant, and the emulator's own
   backends (POST /_corebound/bulk/check, not the code under test) show every resource with its
   tags and key afterwards. Reported: writes per fixed resource, wall time, peak RSS.

The resources are created in the emulator's backends in one control call
(tests/emulator/bulk_seed.py): seeding 10 000 resources takes under a second and never appears
in the request log, which then holds exactly the sweep's own calls.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

KINDS = (
    "sns_topic", "sqs_queue", "log_group", "s3_bucket", "secret",
    "iam_role", "kms_key", "agent_runtime", "memory", "gateway",
)
READ_PREFIXES = ("Get", "List", "Describe", "Head")
TARGET_READS_PER_RESOURCE = 1.2
TARGET_SWEEP_RSS_KIB = 64 * 1024

ACCOUNT = "123456789012"
REGION = "us-east-1"
REQUIRED_TAGS = {
    "ApplicationId": "app-0001",
    "Environment": "preprod",
    "Project": "corebound",
    "ServiceLine": "platform",
    "ManagedBy": "platform-ci",
}
# Every seeded name falls inside these (bulk_seed.py's default prefixes).
SCOPE_PATTERNS = "corebound-demo-*,corebound_demo_*,LPMA_Demo_*"
ROLE_PREFIX = "LPMA_"


def is_read(operation: str | None) -> bool:
    return bool(operation) and operation.startswith(READ_PREFIXES)


def count_operations(entries: list[dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for entry in entries:
        key = entry.get("operation") or f"{entry.get('method')} {entry.get('path')}"
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def sweep_env(endpoint: str, key_arn: str) -> dict[str, str]:
    """The remediator's settings, as the template sets them, pointed at the emulator."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        "HOME": os.environ.get("HOME", "/tmp"),
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ENDPOINT_URL_BEDROCK_AGENTCORE_CONTROL": endpoint,
        "REQUIRED_TAGS": json.dumps(REQUIRED_TAGS),
        "KMS_KEY_ARN": key_arn,
        "SCOPE_PATTERNS": SCOPE_PATTERNS,
        "REQUIRED_ROLE_PREFIX": ROLE_PREFIX,
        "OPT_OUT_TAG": "corebound:remediation",
    }


def run_sweep(binary: Path, mode: str, env: dict, report: Path, log_path: Path, timeout: float) -> dict:
    """One `corebound sweep` process: exit code, wall time, peak RSS and CPU from wait4."""
    report.unlink(missing_ok=True)
    with open(log_path, "ab") as log_file:
        log_file.write(f"\n$ {binary} sweep --mode {mode} --report {report}\n".encode())
        log_file.flush()
        started = time.perf_counter()
        process = subprocess.Popen([str(binary), "sweep", "--mode", mode, "--report", str(report)],
                                   env=env, stdout=log_file, stderr=log_file, stdin=subprocess.DEVNULL)
    timed_out = []

    def kill():
        timed_out.append(True)
        try:
            os.kill(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    timer = threading.Timer(timeout, kill)
    timer.start()
    try:
        # wait4, not Popen.wait: the child's own resource usage, ru_maxrss in KiB on Linux.
        _, status, usage = os.wait4(process.pid, 0)
    finally:
        timer.cancel()
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    result = {
        "exit_code": process.returncode,
        "seconds": round(seconds, 2),
        "peak_rss_kib": usage.ru_maxrss,
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
    }
    if timed_out:
        result["error"] = f"killed after {timeout:.0f} s"
    return result


def seed(emulator, per_type: int, every: int) -> tuple[str, dict, float]:
    emulator.reset()
    key_arn = emulator.control("POST", "bulk/cmk", {"scopeLogGroups": ["corebound-demo-*"]})["keyArn"]
    started = time.perf_counter()
    seeded = emulator.control("POST", "bulk/seed", {"count": per_type, "keyArn": key_arn, "tags": REQUIRED_TAGS,
                                                    "nonCompliantEvery": every})["resources"]
    return key_arn, seeded, round(time.perf_counter() - started, 2)


def sweep_once(emulator, binary: Path, mode: str, key_arn: str, total: int, work_dir: Path, timeout: float) -> dict:
    before = len(emulator.requests())
    report_path = work_dir / f"sweep-{mode}.json"
    result = run_sweep(binary, mode, sweep_env(emulator.url, key_arn), report_path, work_dir / "corebound-sweep.log", timeout)
    window = emulator.requests()[before:]
    reads = [entry for entry in window if is_read(entry.get("operation"))]
    writes = [entry for entry in window if not is_read(entry.get("operation"))]
    result.update({
        "resources": total,
        "requests": len(window),
        "reads": len(reads),
        "writes": len(writes),
        "reads_per_resource": round(len(reads) / total, 3) if total else None,
        "errors": sum(1 for entry in window if (entry.get("status") or 0) >= 400),
        "read_operations": count_operations(reads),
        "write_operations": count_operations(writes),
    })
    try:
        report = json.loads(report_path.read_text())
        result["report"] = {"resources": report["summary"]["resources"], "out_of_scope": report["summary"]["out_of_scope"],
                            "outcomes": report["summary"]["outcomes"], "non_compliant": report["summary"]["non_compliant"],
                            "needs_person": report["summary"]["needs_person"]}
    except (OSError, ValueError, KeyError) as error:
        result["report"] = {"error": f"no readable report: {error}"}
    return result


def measure_sweep(emulator, binary: Path, per_type: int, work_dir: Path, timeout: float = 1800.0,
                  log=lambda message: None) -> dict:
    """Both runs; never raises for a failed measurement (the error is in the result)."""
    work_dir.mkdir(parents=True, exist_ok=True)
    total = per_type * len(KINDS)
    result: dict = {"per_type": per_type, "types": len(KINDS), "resources": total,
                    "targets": {"writes_when_compliant": 0, "reads_per_resource": TARGET_READS_PER_RESOURCE,
                                "peak_rss_kib": TARGET_SWEEP_RSS_KIB}}

    log(f"sweep: seeding {total} compliant resources")
    key_arn, _, result["seed_seconds"] = seed(emulator, per_type, every=0)
    log("sweep: corebound sweep --mode report (compliant account)")
    compliant = sweep_once(emulator, binary, "report", key_arn, total, work_dir, timeout)
    compliant["ok"] = {
        "zero_writes": compliant["writes"] == 0,
        "reads_per_resource": compliant["reads_per_resource"] is not None
        and compliant["reads_per_resource"] <= TARGET_READS_PER_RESOURCE,
        "peak_rss": compliant["peak_rss_kib"] <= TARGET_SWEEP_RSS_KIB,
        "all_compliant": (compliant["report"].get("outcomes") or {}).get("compliant") == total,
    }
    result["compliant"] = compliant

    log(f"sweep: seeding {total} resources, every second one non-compliant")
    key_arn, seeded, _ = seed(emulator, per_type, every=2)
    expected = sum(1 for created in seeded.values() for r in created if not r["compliant"])
    log(f"sweep: corebound sweep --mode enforce ({expected} to fix)")
    enforce = sweep_once(emulator, binary, "enforce", key_arn, total, work_dir, timeout)
    check = emulator.control("POST", "bulk/check", {
        "resources": {kind: [r["arn"] for r in created] for kind, created in seeded.items()},
        "keyArn": key_arn, "tags": REQUIRED_TAGS})
    fixed = (enforce["report"].get("outcomes") or {}).get("fixed")
    enforce.update({
        "non_compliant_seeded": expected,
        "fixed_in_report": fixed,
        "still_non_compliant": len(check["nonCompliant"]),
        "still_non_compliant_sample": check["nonCompliant"][:5],
        "writes_per_fixed_resource": round(enforce["writes"] / fixed, 3) if fixed else None,
    })
    enforce["ok"] = {
        "every_one_fixed": fixed == expected and not check["nonCompliant"],
        "peak_rss": enforce["peak_rss_kib"] <= TARGET_SWEEP_RSS_KIB,
    }
    result["half_non_compliant"] = enforce
    return result


def report_lines(sweep: dict | None) -> list[str]:
    """The bench table's lines for the sweep."""
    if not sweep:
        return ["sweep: not run (--sweep 0, or no corebound binary)"]
    if "compliant" not in sweep:
        return [f"sweep: {sweep.get('status', 'FAILED')}: {sweep.get('note') or sweep.get('error')}"]
    mark = lambda ok: " ok" if ok else " MISSED"  # noqa: E731
    a, b = sweep["compliant"], sweep["half_non_compliant"]
    lines = [
        f"sweep of {sweep['resources']} resources ({sweep['per_type']} x {sweep['types']} types; seeded in {sweep['seed_seconds']} s):",
        f"  compliant, report mode:    {a['seconds']} s, writes {a['writes']}{mark(a['ok']['zero_writes'])}, "
        f"reads/resource {a['reads_per_resource']}{mark(a['ok']['reads_per_resource'])} (<= {TARGET_READS_PER_RESOURCE}), "
        f"peak RSS {a['peak_rss_kib'] / 1024:.1f} MiB{mark(a['ok']['peak_rss'])} (<= 64), exit {a['exit_code']}, "
        f"all compliant{mark(a['ok']['all_compliant'])}",
        f"    reads: " + ", ".join(f"{op} {n}" for op, n in list(a["read_operations"].items())[:10]),
        f"  half non-compliant, enforce: {b['seconds']} s, fixed {b['fixed_in_report']}/{b['non_compliant_seeded']}, "
        f"still non-compliant {b['still_non_compliant']}{mark(b['ok']['every_one_fixed'])}, "
        f"writes/fixed {b['writes_per_fixed_resource']}, reads/resource {b['reads_per_resource']}, "
        f"peak RSS {b['peak_rss_kib'] / 1024:.1f} MiB{mark(b['ok']['peak_rss'])}, exit {b['exit_code']}",
        f"    writes: " + ", ".join(f"{op} {n}" for op, n in list(b["write_operations"].items())[:10]),
    ]
    for entry in b.get("still_non_compliant_sample", []):
        lines.append(f"    not fixed: {entry['arn']}: {', '.join(entry['missing'])}")
    for run in (a, b):
        if run.get("error"):
            lines.append(f"  error: {run['error']}")
    return lines
