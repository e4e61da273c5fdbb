//! Plain AWS calls against the local emulator, as a third party (a deployer, a console user)
//! would make them: to create fixture resources before a test and to read their state after.
//!
//! Requests are unsigned; the `Authorization` header carries only the SigV4 credential scope,
//! which the emulator (and moto) route on. One function per wire protocol:
//! [`query`] (SNS, IAM: form body with `Action` and `Version`), [`json`] (KMS, Logs,
//! Secrets Manager, SQS: `X-Amz-Target`), [`rest_xml`] (S3, path-style). Responses of the
//! XML protocols are read with the small helpers [`xml_text`] and [`xml_pairs`].

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::Value;

use crate::emulator::Emulator;

/// `Authorization` header routing a request to `service`: in us-east-1 with the access key
/// `testing` (the emulator's account 123456789012), or as the caller [`as_caller`] set.
pub fn authorization(service: &str) -> String {
    let (access_key, region) = CALLER.with(|caller| {
        caller
            .borrow()
            .clone()
            .unwrap_or_else(|| ("testing".to_string(), "us-east-1".to_string()))
    });
    format!(
        "AWS4-HMAC-SHA256 Credential={access_key}/20260101/{region}/{service}/aws4_request, \
         SignedHeaders=host, Signature=0"
    )
}

thread_local! {
    /// (access key, region) of the calls made on this thread, when not the default.
    static CALLER: std::cell::RefCell<Option<(String, String)>> = const { std::cell::RefCell::new(None) };
}

/// Runs `calls` as another caller: the emulator maps an access key to its account (moto's
/// rule), and the region routes the request. Every helper of this module made inside `calls`
/// on this thread acts in that account and region (multi-account tests, `make demo-org`).
pub fn as_caller<T>(access_key: &str, region: &str, calls: impl FnOnce() -> T) -> T {
    let previous = CALLER.with(|caller| {
        caller
            .borrow_mut()
            .replace((access_key.to_string(), region.to_string()))
    });
    let result = calls();
    CALLER.with(|caller| *caller.borrow_mut() = previous);
    result
}

/// One HTTP/1.1 request with a raw body; returns the status and the body text.
pub fn raw_request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<(u16, String), String> {
    let rest = url.strip_prefix("http://").ok_or("only http:// URLs")?;
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let mut stream = TcpStream::connect(host).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .map_err(|e| e.to_string())?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body))
        .map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).map_err(|e| e.to_string())?;
    let split = raw
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .ok_or("no end of the HTTP head")?;
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut payload = raw[split + 4..].to_vec();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or("no HTTP status")?;
    if head.lines().any(|line| {
        line.to_ascii_lowercase()
            .starts_with("transfer-encoding: chunked")
    }) {
        payload = dechunk(&payload)?;
    }
    Ok((status, String::from_utf8_lossy(&payload).into_owned()))
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let line_end = data
            .windows(2)
            .position(|window| window == b"\r\n")
            .ok_or("bad chunk")?;
        let size_text = String::from_utf8_lossy(&data[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|e| format!("bad chunk size {size_text:?}: {e}"))?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        out.extend_from_slice(data.get(..size).ok_or("short chunk")?);
        data = data.get(size + 2..).unwrap_or_default();
    }
}

fn ok(result: Result<(u16, String), String>, what: &str) -> Result<String, String> {
    match result {
        Ok((status, body)) if (200..300).contains(&status) => Ok(body),
        Ok((status, body)) => Err(format!("{what}: HTTP {status}: {body}")),
        Err(error) => Err(format!("{what}: {error}")),
    }
}

/// Percent-encoding (RFC 3986 unreserved characters kept) for form values, query values and
/// single path segments such as an ARN.
pub fn form_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Query protocol (SNS `2010-03-31`, IAM `2010-05-08`): returns the XML response.
pub fn query(
    emulator: &Emulator,
    service: &str,
    action: &str,
    params: &[(&str, &str)],
) -> Result<String, String> {
    let version = match service {
        "sns" => "2010-03-31",
        "iam" => "2010-05-08",
        "sts" => "2011-06-15",
        other => return Err(format!("no query-protocol version known for {other}")),
    };
    let mut body = format!("Action={action}&Version={version}");
    for (name, value) in params {
        body.push_str(&format!("&{}={}", form_encode(name), form_encode(value)));
    }
    let authorization = authorization(service);
    let headers = [
        ("Authorization", authorization.as_str()),
        (
            "Content-Type",
            "application/x-www-form-urlencoded; charset=utf-8",
        ),
    ];
    ok(
        raw_request(
            "POST",
            &format!("{}/", emulator.url()),
            &headers,
            body.as_bytes(),
        ),
        &format!("{service} {action}"),
    )
}

/// JSON protocol: `target` is the full `X-Amz-Target`, e.g. `TrentService.CreateKey`
/// (JSON 1.1) or `AmazonSQS.CreateQueue` (JSON 1.0).
pub fn json(
    emulator: &Emulator,
    service: &str,
    target: &str,
    body: &Value,
) -> Result<Value, String> {
    let content_type = if target.starts_with("AmazonSQS.") {
        "application/x-amz-json-1.0"
    } else {
        "application/x-amz-json-1.1"
    };
    let authorization = authorization(service);
    let headers = [
        ("Authorization", authorization.as_str()),
        ("Content-Type", content_type),
        ("X-Amz-Target", target),
    ];
    let text = ok(
        raw_request(
            "POST",
            &format!("{}/", emulator.url()),
            &headers,
            body.to_string().as_bytes(),
        ),
        target,
    )?;
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(&text).map_err(|e| format!("{target}: {e}: {text}"))
}

/// S3 REST-XML, path-style: `path` is `/<bucket>` plus an optional `?subresource`.
pub fn rest_xml(
    emulator: &Emulator,
    method: &str,
    path: &str,
    body: &str,
) -> Result<String, String> {
    let authorization = authorization("s3");
    let headers = [
        ("Authorization", authorization.as_str()),
        ("Content-Type", "application/xml"),
        ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
    ];
    ok(
        raw_request(
            method,
            &format!("{}{path}", emulator.url()),
            &headers,
            body.as_bytes(),
        ),
        &format!("s3 {method} {path}"),
    )
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The text of the first `<tag>…</tag>` element (attributes on the open tag not supported).
pub fn xml_text(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&close)?;
    Some(unescape(&xml[start..end]))
}

/// Every `<key_tag>k</key_tag>` followed by its `<value_tag>v</value_tag>`, in order:
/// SNS and IAM tag lists (`Key`/`Value`), S3 tag sets, SNS attribute maps (`key`/`value`).
pub fn xml_pairs(xml: &str, key_tag: &str, value_tag: &str) -> BTreeMap<String, String> {
    let mut pairs = BTreeMap::new();
    let open = format!("<{key_tag}>");
    let mut rest = xml;
    while let Some(position) = rest.find(&open) {
        rest = &rest[position..];
        let Some(key) = xml_text(rest, key_tag) else {
            break;
        };
        let after_key = rest.find(&format!("</{key_tag}>")).unwrap_or(0) + key_tag.len() + 3;
        rest = &rest[after_key..];
        let next_key = rest.find(&open).unwrap_or(rest.len());
        let value = xml_text(&rest[..next_key], value_tag)
            .or_else(|| {
                rest[..next_key]
                    .contains(&format!("<{value_tag}/>"))
                    .then(String::new)
            })
            .unwrap_or_default();
        pairs.insert(key, value);
    }
    pairs
}

/// Tags as the JSON-protocol services list them: `[{"Key": k, "Value": v}]` (or
/// `TagKey`/`TagValue` for KMS).
pub fn tag_list(tags: &Value) -> BTreeMap<String, String> {
    tags.as_array()
        .into_iter()
        .flatten()
        .filter_map(|tag| {
            let key = tag.get("Key").or_else(|| tag.get("TagKey"))?.as_str()?;
            let value = tag.get("Value").or_else(|| tag.get("TagValue"))?.as_str()?;
            Some((key.to_string(), value.to_string()))
        })
        .collect()
}

/// `{"k": "v"}` objects (SQS, Logs, AgentCore tags) as a map.
pub fn tag_object(tags: &Value) -> BTreeMap<String, String> {
    tags.as_object()
        .into_iter()
        .flatten()
        .filter_map(|(key, value)| Some((key.clone(), value.as_str()?.to_string())))
        .collect()
}

/// Helpers for the resources the remediator handles. Every function panics with the AWS
/// error when the call fails: they set up and inspect fixtures.
pub mod fixtures {
    use super::*;
    use serde_json::json;

    fn must<T>(result: Result<T, String>) -> T {
        result.unwrap_or_else(|error| panic!("{error}"))
    }

    /// A symmetric KMS key; returns its ARN.
    pub fn create_key(emu: &Emulator, description: &str, tags: &[(&str, &str)]) -> String {
        let tags: Vec<Value> = tags
            .iter()
            .map(|(k, v)| json!({"TagKey": k, "TagValue": v}))
            .collect();
        let created = must(json(
            emu,
            "kms",
            "TrentService.CreateKey",
            &json!({"Description": description, "Tags": tags}),
        ));
        created["KeyMetadata"]["Arn"]
            .as_str()
            .expect("CreateKey returns the key ARN")
            .to_string()
    }

    pub fn create_alias(emu: &Emulator, alias: &str, key_arn: &str) {
        must(json(
            emu,
            "kms",
            "TrentService.CreateAlias",
            &json!({"AliasName": alias, "TargetKeyId": key_arn}),
        ));
    }

    pub fn key_tags(emu: &Emulator, key_arn: &str) -> BTreeMap<String, String> {
        let listed = must(json(
            emu,
            "kms",
            "TrentService.ListResourceTags",
            &json!({"KeyId": key_arn}),
        ));
        tag_list(&listed["Tags"])
    }

    /// Query-protocol tags: `Tags.member.N.Key` / `Tags.member.N.Value`.
    fn push_member_tags(params: &mut Vec<(String, String)>, tags: &[(&str, &str)]) {
        for (index, (key, value)) in tags.iter().enumerate() {
            params.push((format!("Tags.member.{}.Key", index + 1), key.to_string()));
            params.push((
                format!("Tags.member.{}.Value", index + 1),
                value.to_string(),
            ));
        }
    }

    fn borrowed(params: &[(String, String)]) -> Vec<(&str, &str)> {
        params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    /// An SNS topic with optional attributes (e.g. `KmsMasterKeyId`) and tags; returns its ARN.
    pub fn create_topic(
        emu: &Emulator,
        name: &str,
        attributes: &[(&str, &str)],
        tags: &[(&str, &str)],
    ) -> String {
        let mut params: Vec<(String, String)> = vec![("Name".into(), name.into())];
        for (index, (key, value)) in attributes.iter().enumerate() {
            params.push((
                format!("Attributes.entry.{}.key", index + 1),
                key.to_string(),
            ));
            params.push((
                format!("Attributes.entry.{}.value", index + 1),
                value.to_string(),
            ));
        }
        push_member_tags(&mut params, tags);
        let params = borrowed(&params);
        let xml = must(query(emu, "sns", "CreateTopic", &params));
        xml_text(&xml, "TopicArn").expect("CreateTopic returns TopicArn")
    }

    pub fn topic_attributes(emu: &Emulator, arn: &str) -> BTreeMap<String, String> {
        let xml = must(query(
            emu,
            "sns",
            "GetTopicAttributes",
            &[("TopicArn", arn)],
        ));
        xml_pairs(&xml, "key", "value")
    }

    pub fn topic_tags(emu: &Emulator, arn: &str) -> BTreeMap<String, String> {
        let xml = must(query(
            emu,
            "sns",
            "ListTagsForResource",
            &[("ResourceArn", arn)],
        ));
        xml_pairs(&xml, "Key", "Value")
    }

    /// Subscribes an SQS queue (by ARN) to a topic, raw delivery off.
    pub fn subscribe_queue(emu: &Emulator, topic_arn: &str, queue_arn: &str) {
        must(query(
            emu,
            "sns",
            "Subscribe",
            &[
                ("TopicArn", topic_arn),
                ("Protocol", "sqs"),
                ("Endpoint", queue_arn),
            ],
        ));
    }

    /// An SQS queue; returns its URL.
    pub fn create_queue(
        emu: &Emulator,
        name: &str,
        attributes: &[(&str, &str)],
        tags: &[(&str, &str)],
    ) -> String {
        let attributes: serde_json::Map<String, Value> = attributes
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        let tags: serde_json::Map<String, Value> = tags
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        let created = must(json(
            emu,
            "sqs",
            "AmazonSQS.CreateQueue",
            &json!({"QueueName": name, "Attributes": attributes, "tags": tags}),
        ));
        created["QueueUrl"]
            .as_str()
            .expect("CreateQueue returns QueueUrl")
            .to_string()
    }

    pub fn queue_attributes(emu: &Emulator, url: &str) -> BTreeMap<String, String> {
        let got = must(json(
            emu,
            "sqs",
            "AmazonSQS.GetQueueAttributes",
            &json!({"QueueUrl": url, "AttributeNames": ["All"]}),
        ));
        tag_object(&got["Attributes"])
    }

    pub fn queue_tags(emu: &Emulator, url: &str) -> BTreeMap<String, String> {
        let got = must(json(
            emu,
            "sqs",
            "AmazonSQS.ListQueueTags",
            &json!({"QueueUrl": url}),
        ));
        tag_object(&got["Tags"])
    }

    /// Up to 10 messages from a queue (waiting up to `wait_seconds` for the first).
    pub fn receive_messages(emu: &Emulator, url: &str, wait_seconds: u32) -> Vec<Value> {
        let got = must(json(
            emu,
            "sqs",
            "AmazonSQS.ReceiveMessage",
            &json!({"QueueUrl": url, "MaxNumberOfMessages": 10, "WaitTimeSeconds": wait_seconds}),
        ));
        got["Messages"].as_array().cloned().unwrap_or_default()
    }

    /// Deletes a received `message` (what the event source mapping does after a success).
    pub fn delete_message(emu: &Emulator, url: &str, message: &Value) {
        must(json(
            emu,
            "sqs",
            "AmazonSQS.DeleteMessage",
            &json!({"QueueUrl": url, "ReceiptHandle": message["ReceiptHandle"]}),
        ));
    }

    pub fn create_log_group(
        emu: &Emulator,
        name: &str,
        kms_key_id: Option<&str>,
        tags: &[(&str, &str)],
    ) {
        let mut body = json!({"logGroupName": name});
        if let Some(key) = kms_key_id {
            body["kmsKeyId"] = json!(key);
        }
        if !tags.is_empty() {
            let tags: serde_json::Map<String, Value> = tags
                .iter()
                .map(|(k, v)| (k.to_string(), json!(v)))
                .collect();
            body["tags"] = Value::Object(tags);
        }
        must(json(emu, "logs", "Logs_20140328.CreateLogGroup", &body));
    }

    /// DescribeLogGroups' entry for exactly this name.
    pub fn log_group(emu: &Emulator, name: &str) -> Value {
        let got = must(json(
            emu,
            "logs",
            "Logs_20140328.DescribeLogGroups",
            &json!({"logGroupNamePrefix": name}),
        ));
        got["logGroups"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|group| group["logGroupName"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no log group {name}"))
    }

    pub fn log_group_tags(emu: &Emulator, name: &str) -> BTreeMap<String, String> {
        let arn = log_group(emu, name)["logGroupArn"]
            .as_str()
            .expect("logGroupArn")
            .to_string();
        let got = must(json(
            emu,
            "logs",
            "Logs_20140328.ListTagsForResource",
            &json!({"resourceArn": arn}),
        ));
        tag_object(&got["tags"])
    }

    pub fn create_bucket(emu: &Emulator, name: &str) {
        must(rest_xml(emu, "PUT", &format!("/{name}"), ""));
    }

    pub fn put_bucket_tags(emu: &Emulator, name: &str, tags: &[(&str, &str)]) {
        let tags: String = tags
            .iter()
            .map(|(k, v)| format!("<Tag><Key>{k}</Key><Value>{v}</Value></Tag>"))
            .collect();
        let body = format!("<Tagging><TagSet>{tags}</TagSet></Tagging>");
        must(rest_xml(emu, "PUT", &format!("/{name}?tagging"), &body));
    }

    pub fn put_bucket_kms_encryption(emu: &Emulator, name: &str, key_arn: &str) {
        let body = format!(
            "<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault>\
             <SSEAlgorithm>aws:kms</SSEAlgorithm><KMSMasterKeyID>{key_arn}</KMSMasterKeyID>\
             </ApplyServerSideEncryptionByDefault><BucketKeyEnabled>true</BucketKeyEnabled>\
             </Rule></ServerSideEncryptionConfiguration>"
        );
        must(rest_xml(emu, "PUT", &format!("/{name}?encryption"), &body));
    }

    /// The bucket's tag set (empty when it has none).
    pub fn bucket_tags(emu: &Emulator, name: &str) -> BTreeMap<String, String> {
        match rest_xml(emu, "GET", &format!("/{name}?tagging"), "") {
            Ok(xml) => xml_pairs(&xml, "Key", "Value"),
            Err(error) if error.contains("NoSuchTagSet") => BTreeMap::new(),
            Err(error) => panic!("{error}"),
        }
    }

    /// The bucket's GetBucketEncryption XML. Every bucket has one, as in AWS: SSE-S3
    /// (`AES256`) unless configured otherwise (tests/emulator/s3_default_encryption.py).
    pub fn bucket_encryption(emu: &Emulator, name: &str) -> String {
        rest_xml(emu, "GET", &format!("/{name}?encryption"), "")
            .unwrap_or_else(|error| panic!("{error}"))
    }

    /// A secret with a value; returns its ARN.
    pub fn create_secret(
        emu: &Emulator,
        name: &str,
        kms_key_id: Option<&str>,
        tags: &[(&str, &str)],
    ) -> String {
        let mut body = json!({"Name": name, "SecretString": "{\"password\":\"not-a-real-one\"}"});
        if let Some(key) = kms_key_id {
            body["KmsKeyId"] = json!(key);
        }
        if !tags.is_empty() {
            let tags: Vec<Value> = tags
                .iter()
                .map(|(k, v)| json!({"Key": k, "Value": v}))
                .collect();
            body["Tags"] = Value::Array(tags);
        }
        let created = must(json(
            emu,
            "secretsmanager",
            "secretsmanager.CreateSecret",
            &body,
        ));
        created["ARN"]
            .as_str()
            .expect("CreateSecret returns the ARN")
            .to_string()
    }

    pub fn describe_secret(emu: &Emulator, arn: &str) -> Value {
        must(json(
            emu,
            "secretsmanager",
            "secretsmanager.DescribeSecret",
            &json!({"SecretId": arn}),
        ))
    }

    /// An IAM role Lambda may assume; returns its ARN.
    pub fn create_role(emu: &Emulator, name: &str, tags: &[(&str, &str)]) -> String {
        let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"bedrock-agentcore.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
        let mut params: Vec<(String, String)> = vec![
            ("RoleName".into(), name.into()),
            ("AssumeRolePolicyDocument".into(), trust.into()),
        ];
        push_member_tags(&mut params, tags);
        let params = borrowed(&params);
        let xml = must(query(emu, "iam", "CreateRole", &params));
        xml_text(&xml, "Arn").expect("CreateRole returns the role ARN")
    }

    pub fn role_tags(emu: &Emulator, name: &str) -> BTreeMap<String, String> {
        let xml = must(query(emu, "iam", "ListRoleTags", &[("RoleName", name)]));
        xml_pairs(&xml, "Key", "Value")
    }

    /// AgentCore tags (REST-JSON `GET /tags/{arn}`).
    pub fn agentcore_tags(emu: &Emulator, arn: &str) -> BTreeMap<String, String> {
        let got = emu
            .aws_rest(
                "bedrock-agentcore",
                "GET",
                &format!("/tags/{}", form_encode(arn)),
                None,
            )
            .unwrap_or_else(|error| panic!("ListTagsForResource {arn}: {error}"));
        tag_object(&got["tags"])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_pairs_reads_tag_lists_and_attribute_maps() {
        let sns = "<Tags><member><Key>A</Key><Value>1</Value></member>\
                   <member><Key>B</Key><Value/></member></Tags>";
        let pairs = xml_pairs(sns, "Key", "Value");
        assert_eq!(pairs.get("A").map(String::as_str), Some("1"));
        assert_eq!(pairs.get("B").map(String::as_str), Some(""));
        let attributes = "<entry><key>KmsMasterKeyId</key><value>arn:x&amp;y</value></entry>";
        assert_eq!(
            xml_pairs(attributes, "key", "value")
                .get("KmsMasterKeyId")
                .map(String::as_str),
            Some("arn:x&y")
        );
        assert_eq!(
            xml_text("<a><TopicArn>t</TopicArn></a>", "TopicArn").as_deref(),
            Some("t")
        );
    }

    #[test]
    fn chunked_bodies_are_joined() {
        assert_eq!(
            dechunk(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n").unwrap(),
            b"abcde"
        );
    }
}
