//! One SDK client per service the remediator reads or writes.

use aws_config::SdkConfig;

#[derive(Clone)]
pub struct Clients {
    pub sns: aws_sdk_sns::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub s3: aws_sdk_s3::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub iam: aws_sdk_iam::Client,
    pub kms: aws_sdk_kms::Client,
    pub agentcore: aws_sdk_bedrockagentcorecontrol::Client,
    /// Resource Groups Tagging API: the sweep reads many resources' tags per call.
    pub tagging: aws_sdk_resourcegroupstagging::Client,
}

impl Clients {
    pub fn new(config: &SdkConfig) -> Self {
        // Bucket names become host names under S3's default virtual-hosted addressing, which
        // a local endpoint (`AWS_ENDPOINT_URL=http://127.0.0.1:PORT`) cannot serve: use
        // path-style requests whenever the S3 endpoint is overridden. Real S3 is unchanged.
        let endpoint_overridden = ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"]
            .iter()
            .any(|name| std::env::var(name).is_ok_and(|value| !value.trim().is_empty()));
        let s3 = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(endpoint_overridden)
            .build();
        Clients {
            sns: aws_sdk_sns::Client::new(config),
            sqs: aws_sdk_sqs::Client::new(config),
            logs: aws_sdk_cloudwatchlogs::Client::new(config),
            s3: aws_sdk_s3::Client::from_conf(s3),
            secrets: aws_sdk_secretsmanager::Client::new(config),
            iam: aws_sdk_iam::Client::new(config),
            kms: aws_sdk_kms::Client::new(config),
            agentcore: aws_sdk_bedrockagentcorecontrol::Client::new(config),
            tagging: aws_sdk_resourcegroupstagging::Client::new(config),
        }
    }
}

/// The alias names (`alias/NAME`) of one `kms:ListAliases` page, and the marker of the next
/// page when there is one. Both readers of a key's aliases (the start-up key check and the
/// per-event observation) page through them the same way; only their retry policy differs.
pub fn alias_page(
    page: &aws_sdk_kms::operation::list_aliases::ListAliasesOutput,
) -> (Vec<String>, Option<String>) {
    let names = page
        .aliases()
        .iter()
        .filter_map(|alias| alias.alias_name())
        .map(str::to_string)
        .collect();
    let next = page
        .next_marker()
        .filter(|_| page.truncated())
        .map(str::to_string);
    (names, next)
}
