"""The scheduled sweep's resources in template.yaml (issue 12 §2, §4), checked against the code.

- The schedule: the SweepSchedule parameter (empty disables it), a rule that sends the start
  message the remediator accepts, the Lambda permission for exactly that rule.
- The work queue: CMK, redrive to an alarmed dead-letter queue, a visibility timeout of at least
  6 times the function's timeout, an event source mapping with bounded concurrency and
  partial-batch responses, and only the remediator may enqueue.
- The report bucket: CMK with the bucket key, versioning, public access blocked, TLS only,
  lifecycle per prefix of the code's layout, reports written only by the remediator.
- The dashboard and the alarm use the metric names, namespace and dimensions the code emits.
- The remediator's sweep variables and permissions are what the code reads and calls.

The code's names are read from its sources (shared/src/sweep/): a test that cannot find one
fails and says where it looked, so a rename in the code shows up here.
"""

from __future__ import annotations

import json
import re
import unittest

from test_template import ROOT, SAMPLE_PARAMETERS, _Templates, as_list, policy_statements

SWEEP_SOURCES = ROOT / "shared" / "src" / "sweep"
FUNCTION_NAME = "Demo-corebound-remediator"  # FunctionName with the sample AppName
ROLE_ARN = "arn:aws:iam::123456789012:role/LPMA_Demo_Remediator"


def source(name: str) -> str:
    path = SWEEP_SOURCES / name
    if not path.is_file():
        raise AssertionError(f"{path.relative_to(ROOT)} is missing: the sweep's code moved, update this test")
    return path.read_text()


def found(pattern: str, text: str, what: str, flags: int = 0) -> list[str]:
    values = re.findall(pattern, text, flags)
    if not values:
        raise AssertionError(f"{what} not found in the sweep's sources (pattern {pattern!r})")
    return values


def code_constant(name: str) -> str:
    """A `pub const NAME: &str = "...";` of shared/src/sweep/."""
    text = "".join(path.read_text() for path in sorted(SWEEP_SOURCES.glob("*.rs")))
    return found(rf'pub const {name}: &str = "([^"]*)";', text, f"const {name}")[0]


def code_metrics() -> dict[tuple[str, ...], set[str]]:
    """The EMF metric names by dimension set, as the code writes them (metrics.rs, outcome.rs)."""
    metrics = source("metrics.rs")
    outcome = source("outcome.rs")
    metric_fn = found(r"pub fn metric\(self\) -> &'static str \{(.*?)\n    \}", outcome, "Outcome::metric", re.S)[0]
    per_outcome = set(found(r'=> "(\w+)"', metric_fn, "outcome metric names"))
    unit_fn, sweep_fn = (
        found(rf"pub fn {name}\(.*?\n\}}", metrics, name, re.S)[0] for name in ("unit_metrics", "sweep_metrics")
    )
    result = {}
    for body, extra in ((unit_fn, per_outcome), (sweep_fn, set())):
        dimensions = found(r'"Dimensions": \[\[([^\]]*)\]\]', body, "EMF Dimensions")
        (dimension_set,) = {tuple(re.findall(r'"(\w+)"', d)) for d in dimensions}
        result[dimension_set] = set(re.findall(r'\{"Name": "(\w+)"', body)) | extra
    return result


class Schedule(_Templates):
    def test_the_parameter_takes_schedule_expressions_and_empty_disables_the_schedule(self):
        parameter = self.template["Parameters"]["SweepSchedule"]
        self.assertEqual(parameter["Default"], "rate(1 hour)")
        pattern = re.compile(parameter["AllowedPattern"])
        for good in ("", "rate(1 hour)", "rate(30 minutes)", "cron(0 * * * ? *)"):
            self.assertRegex(good, pattern)
        for bad in ("hourly", "rate(1 hour", "rate(1 hour) ", "at(2026-01-01T00:00:00)"):
            self.assertNotRegex(bad, pattern)
        self.assertTrue(self.rendered().conditions["SweepScheduled"])
        self.assertFalse(self.rendered(SweepSchedule="").conditions["SweepScheduled"])
        gated = {name for name, r in self.resources.items() if r.get("Condition") == "SweepScheduled"}
        self.assertEqual(gated, {"SweepScheduleRule", "SweepScheduleInvokePermission"})

    def test_the_rule_sends_the_start_message_the_remediator_accepts(self):
        rule = self.rendered()(self.resources["SweepScheduleRule"]["Properties"])
        self.assertEqual(rule["ScheduleExpression"], SAMPLE_PARAMETERS["SweepSchedule"])
        (target,) = rule["Targets"]
        self.assertEqual(target["Arn"], "<RemediatorFunction.Arn>")
        start = json.loads(target["Input"])
        unit = source("unit.rs")
        for key, value in start.items():
            self.assertIn(f'"{value}"', unit, f"the start message's {key}={value!r} is not what unit.rs parses")
        self.assertEqual(target["DeadLetterConfig"]["Arn"], "<SweepDeadLetterQueue.Arn>")
        self.assertIn("RetryPolicy", target)
        permission = self.resources["SweepScheduleInvokePermission"]["Properties"]
        self.assertEqual(permission["Principal"], "events.amazonaws.com")
        self.assertEqual(permission["SourceArn"], {"Fn::GetAtt": ["SweepScheduleRule", "Arn"]})
        self.assertEqual(permission["FunctionName"], {"Ref": "RemediatorFunction"})

    def test_the_rule_may_deliver_its_dead_letters_into_the_encrypted_queue(self):
        render = self.rendered()
        rule_arn = "arn:aws:events:us-east-1:123456789012:rule/" + render(self.resources["SweepScheduleRule"]["Properties"]["Name"])
        policy = render(self.resources["SweepDeadLetterQueuePolicy"]["Properties"]["PolicyDocument"])
        allow = [st for st in policy["Statement"] if st["Effect"] == "Allow"]
        self.assertEqual([st["Condition"]["ArnEquals"]["aws:SourceArn"] for st in allow], [rule_arn])
        key = {st["Sid"]: st for st in render(self.resources["ProjectKey"]["Properties"]["KeyPolicy"])["Statement"]}
        self.assertEqual(key["EventBridgeToSweepDeadLetterQueue"]["Condition"]["ArnEquals"]["aws:SourceArn"], rule_arn)


class WorkQueue(_Templates):
    def test_visibility_timeout_is_at_least_six_times_the_function_timeout(self):
        timeout = self.resources["RemediatorFunction"]["Properties"]["Timeout"]
        self.assertGreaterEqual(self.resources["SweepQueue"]["Properties"]["VisibilityTimeout"], 6 * timeout)

    def test_failed_units_are_retried_then_dead_lettered_and_the_dead_letters_alarm(self):
        queue = self.resources["SweepQueue"]["Properties"]
        redrive = queue["RedrivePolicy"]
        self.assertEqual(redrive["deadLetterTargetArn"], {"Fn::GetAtt": ["SweepDeadLetterQueue", "Arn"]})
        self.assertGreater(redrive["maxReceiveCount"], 1, "a throttled unit is retried by the queue, not lost")
        render = self.rendered()
        for name in ("SweepQueue", "SweepDeadLetterQueue"):
            with self.subTest(queue=name):
                self.assertEqual(render(self.resources[name]["Properties"]["KmsMasterKeyId"]), "<ProjectKey.Arn>")
        alarms = [
            render(alarm["Properties"]) for alarm in self.of_type("AWS::CloudWatch::Alarm").values()
            if alarm["Properties"].get("Dimensions", [{}])[0].get("Value")
            == {"Fn::GetAtt": ["SweepDeadLetterQueue", "QueueName"]}
        ]
        self.assertEqual(len(alarms), 1, "one alarm on the sweep dead-letter queue's depth")
        (alarm,) = alarms
        self.assertEqual((alarm["MetricName"], alarm["Threshold"], alarm["ComparisonOperator"]),
                         ("ApproximateNumberOfMessagesVisible", 0, "GreaterThanThreshold"))
        self.assertEqual(alarm["AlarmActions"], ["<AlertTopic>"])

    def test_the_remediator_consumes_it_with_bounded_concurrency_and_partial_batch_responses(self):
        (mapping,) = [m["Properties"] for m in self.of_type("AWS::Lambda::EventSourceMapping").values()
                      if m["Properties"]["EventSourceArn"] == {"Fn::GetAtt": ["SweepQueue", "Arn"]}]
        self.assertEqual(mapping["FunctionName"], {"Ref": "RemediatorFunction"})
        self.assertEqual(mapping["FunctionResponseTypes"], ["ReportBatchItemFailures"])
        self.assertLessEqual(mapping["ScalingConfig"]["MaximumConcurrency"], 2)
        self.assertEqual(mapping["BatchSize"], 1, "one unit per invocation: its time budget is the whole invocation")

    def test_only_the_remediator_may_enqueue_units(self):
        render = self.rendered()
        policy = render(self.resources["SweepQueuePolicy"]["Properties"]["PolicyDocument"])
        deny = {st["Sid"]: st for st in policy["Statement"]}["OnlyTheRemediatorSends"]
        self.assertEqual((deny["Effect"], deny["Principal"], deny["Action"]), ("Deny", {"AWS": "*"}, "sqs:SendMessage"))
        self.assertEqual(deny["Condition"]["ArnNotEquals"]["aws:PrincipalArn"], ROLE_ARN)
        self.assertEqual(ROLE_ARN.rsplit("/", 1)[1], render(self.resources["RemediatorRole"]["Properties"]["RoleName"]))


class ReportBucket(_Templates):
    def bucket(self):
        return self.rendered()(self.resources["ReportBucket"]["Properties"])

    def test_encrypted_with_the_cmk_and_the_bucket_key_versioned_and_private(self):
        bucket = self.bucket()
        (rule,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        self.assertEqual(rule["ServerSideEncryptionByDefault"], {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "<ProjectKey.Arn>"})
        self.assertIs(rule["BucketKeyEnabled"], True)
        self.assertEqual(bucket["VersioningConfiguration"], {"Status": "Enabled"})
        self.assertEqual(bucket["PublicAccessBlockConfiguration"], dict.fromkeys(
            ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"), True))
        self.assertEqual(bucket["OwnershipControls"], {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
        passed_in = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
        self.assertEqual(self.rendered(KmsKeyArn=passed_in)(self.resources["ReportBucket"]["Properties"])[
            "BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]["KMSMasterKeyID"], passed_in)
        self.assertEqual(self.resources["ReportBucket"]["DeletionPolicy"], "RetainExceptOnCreate",
                         "reports are audit evidence: kept when the stack goes")

    def test_the_lifecycle_keeps_reports_and_expires_the_parts_of_the_codes_layout(self):
        rules = {rule["Prefix"]: rule for rule in self.bucket()["LifecycleConfiguration"]["Rules"]}
        reports, manual, parts, lock = (code_constant(n) for n in (
            "REPORTS_PREFIX", "MANUAL_REPORTS_PREFIX", "PARTS_PREFIX", "LOCK_KEY"))
        self.assertEqual(set(rules), {reports, manual, parts, lock})
        for kept in (reports, manual):
            self.assertEqual(int(rules[kept]["ExpirationInDays"]), int(SAMPLE_PARAMETERS["ReportRetentionInDays"]))
        self.assertGreater(self.template["Parameters"]["ReportRetentionInDays"]["MinValue"],
                           max(t["TransitionInDays"] for t in rules[reports]["Transitions"]))
        self.assertLessEqual(rules[parts]["ExpirationInDays"], 14, "parts are needed only while their sweep runs")
        self.assertNotIn("ExpirationInDays", rules[lock], "the current lock is never expired by the lifecycle")
        for prefix, rule in rules.items():
            with self.subTest(prefix=prefix):
                self.assertEqual(rule["Status"], "Enabled")
                self.assertIn("NoncurrentVersionExpiration", rule)
                self.assertIn("AbortIncompleteMultipartUpload", rule)

    def test_tls_only_and_no_version_of_a_report_is_deleted(self):
        policy = self.rendered()(self.resources["ReportBucketPolicy"]["Properties"]["PolicyDocument"])
        statements = {st["Sid"]: st for st in policy["Statement"]}
        tls = statements["DenyInsecureTransport"]
        self.assertEqual((tls["Effect"], tls["Condition"]), ("Deny", {"Bool": {"aws:SecureTransport": "false"}}))
        self.assertTrue({"s3:GetObject", "s3:PutObject", "s3:ListBucket"} <= set(tls["Action"]))
        self.assertEqual(set(tls["Resource"]), {"<ReportBucket.Arn>", "<ReportBucket.Arn>/*"})
        writes = statements["OnlyTheRemediatorWritesSweepReports"]
        self.assertEqual((writes["Effect"], writes["Principal"], writes["Action"]), ("Deny", {"AWS": "*"}, "s3:PutObject"))
        self.assertEqual(writes["Condition"]["ArnNotEquals"]["aws:PrincipalArn"], ROLE_ARN)
        self.assertEqual(set(writes["Resource"]), {f"<ReportBucket.Arn>/{code_constant(name)}*"
                                                   for name in ("REPORTS_PREFIX", "PARTS_PREFIX")})
        kept = statements["ReportsAreKept"]
        self.assertEqual((kept["Effect"], kept["Principal"], kept["Action"], kept["Resource"]),
                         ("Deny", {"AWS": "*"}, "s3:DeleteObjectVersion", "<ReportBucket.Arn>/*"))
        self.assertNotIn("Condition", kept, "not even an administrator deletes a report's version")

    def test_access_logging_is_skipped_with_the_reason(self):
        (skip,) = self.resources["ReportBucket"]["Metadata"]["checkov"]["skip"]
        self.assertEqual(skip["id"], "CKV_AWS_18")
        self.assertIn("SSE-S3", skip["comment"])


class Remediator(_Templates):
    def sweep_statements(self):
        render = self.rendered()
        (policy,) = [p for p in render(self.resources["RemediatorRole"]["Properties"]["Policies"]) if p["PolicyName"] == "sweep"]
        return {st["Sid"]: st for st in policy["PolicyDocument"]["Statement"]}

    def test_the_sweep_variables_are_the_ones_the_code_reads(self):
        variables = self.resources["RemediatorFunction"]["Properties"]["Environment"]["Variables"]
        self.assertEqual(variables["SWEEP_QUEUE_URL"], {"Ref": "SweepQueue"})
        self.assertEqual(variables["REPORT_BUCKET"], {"Ref": "ReportBucket"})
        read = set(found(r'(?:get|number)\(\s*"([A-Z_]+)"', source("settings.rs"), "variables read by SweepSettings"))
        self.assertTrue({"SWEEP_QUEUE_URL", "REPORT_BUCKET"} <= read, read)
        optional = read - set(variables)
        sweep_doc = (ROOT / "docs" / "sweep.md").read_text()
        for name in sorted(optional):
            with self.subTest(variable=name):
                self.assertIn(f"`{name}`", sweep_doc, f"{name} is read by the sweep but neither set by the template nor documented")

    def test_the_report_bucket_permissions_follow_the_codes_layout(self):
        statements = self.sweep_statements()
        lock, parts, reports = (code_constant(n) for n in ("LOCK_KEY", "PARTS_PREFIX", "REPORTS_PREFIX"))
        self.assertEqual(set(statements["SweepObjects"]["Resource"]),
                         {f"<ReportBucket.Arn>/{lock}", f"<ReportBucket.Arn>/{parts}*", f"<ReportBucket.Arn>/{reports}*"})
        self.assertEqual(statements["ReleaseTheLock"]["Resource"], f"<ReportBucket.Arn>/{lock}")
        self.assertEqual(statements["ReleaseTheLock"]["Action"], "s3:DeleteObject")
        self.assertEqual(statements["ListSweepParts"]["Condition"], {"StringLike": {"s3:prefix": f"{parts}*"}})

    def test_wildcard_resources_only_for_list_calls_and_the_queue_only_for_the_queue(self):
        statements = self.sweep_statements()
        for sid, statement in statements.items():
            with self.subTest(statement=sid):
                if statement["Resource"] == "*":
                    for action in as_list(statement["Action"]):
                        self.assertRegex(action.split(":")[1], r"^(List|GetResources$)", f"{action} on *")
        self.assertEqual(statements["SweepQueue"]["Resource"], "<SweepQueue.Arn>")

    def test_the_key_and_the_topic_let_the_sweep_alarms_publish(self):
        render = self.rendered()
        names = sorted(render(self.resources[n]["Properties"]["AlarmName"])
                       for n in ("SweepDeadLetterQueueAlarm", "SweepNonCompliantAlarm"))
        arns = [f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}" for name in names]
        key = {st["Sid"]: st for st in render(self.resources["ProjectKey"]["Properties"]["KeyPolicy"])["Statement"]}
        self.assertEqual(sorted(key["CloudWatchSweepAlarmsToAlertTopic"]["Condition"]["ArnEquals"]["aws:SourceArn"]), arns)
        topic = {st["Sid"]: st for st in render(self.resources["AlertTopicPolicy"]["Properties"]["PolicyDocument"])["Statement"]}
        self.assertEqual(sorted(topic["SweepAlarmsPublish"]["Condition"]["ArnEquals"]["aws:SourceArn"]), arns)


class Metrics(_Templates):
    def dashboard(self) -> dict:
        return json.loads(self.rendered()(self.resources["SweepDashboard"]["Properties"]["DashboardBody"]))

    def dashboard_metrics(self) -> dict[tuple[str, ...], set[str]]:
        """Metric names by dimension set, from the dashboard's SEARCH expressions and metric arrays."""
        namespace = code_constant("METRICS_NAMESPACE")
        shown: dict[tuple[str, ...], set[str]] = {}
        for widget in self.dashboard()["widgets"]:
            for line in widget.get("properties", {}).get("metrics", []):
                expression = line[0].get("expression") if isinstance(line[0], dict) else None
                if expression:
                    for schema, metric, function in re.findall(
                        r"SEARCH\('\{([^}]*)\} MetricName=\"(\w+)\" Function=\"([^\"]+)\"'", expression
                    ):
                        space, *dimensions = schema.split(",")
                        self.assertEqual(space, namespace, expression)
                        self.assertEqual(function, FUNCTION_NAME, expression)
                        shown.setdefault(tuple(dimensions), set()).add(metric)
                elif line[0] == namespace:
                    raise AssertionError(f"a fixed metric line of {namespace}: use SEARCH over the code's dimensions")
        return shown

    def test_the_dashboard_shows_every_metric_the_code_emits_and_nothing_else(self):
        self.assertEqual(self.dashboard_metrics(), code_metrics())

    def test_the_dashboard_shows_each_outcome_by_resource_type(self):
        by_type = [w["properties"]["title"] for w in self.dashboard()["widgets"]
                   if w["type"] == "metric" and w["properties"]["title"].endswith(", by resource type")]
        outcomes = set(found(r'=> "([a-z-]+)"', source("outcome.rs"), "outcome names"))
        self.assertTrue(outcomes <= {title.split(",")[0] for title in by_type}, by_type)

    def test_the_alarm_watches_non_compliance_after_enforce_sweeps(self):
        alarm = self.rendered()(self.resources["SweepNonCompliantAlarm"]["Properties"])
        metrics = code_metrics()
        self.assertEqual(alarm["Namespace"], code_constant("METRICS_NAMESPACE"))
        dimensions = tuple(d["Name"] for d in alarm["Dimensions"])
        self.assertIn(alarm["MetricName"], metrics[dimensions], "the alarm's metric/dimensions are not emitted")
        self.assertEqual(alarm["MetricName"], "SweepNonCompliant")
        self.assertEqual({d["Name"]: d["Value"] for d in alarm["Dimensions"]}, {"Function": FUNCTION_NAME, "Mode": "enforce"})
        self.assertEqual(self.rendered()(self.resources["RemediatorFunction"]["Properties"]["FunctionName"]), FUNCTION_NAME)
        self.assertEqual((alarm["Statistic"], alarm["Threshold"], alarm["ComparisonOperator"]),
                         ("Sum", 1, "GreaterThanOrEqualToThreshold"))
        self.assertEqual(alarm["TreatMissingData"], "notBreaching", "no sweep, or report mode: no alarm")
        self.assertEqual(alarm["AlarmActions"], ["<AlertTopic>"])


class Wildcards(_Templates):
    def test_no_allow_statement_of_the_sweep_resources_names_any_principal(self):
        sweep = {"SweepQueuePolicy", "SweepDeadLetterQueuePolicy", "ReportBucketPolicy"}
        for where, statement in policy_statements({"Resources": {n: self.resources[n] for n in sweep}}):
            with self.subTest(statement=where):
                if statement["Effect"] == "Allow":
                    self.assertNotEqual(statement.get("Principal"), {"AWS": "*"})


if __name__ == "__main__":
    unittest.main()
