#!/usr/bin/env bash
# Does a permissions boundary allow what corebound's roles need? (docs/deploy.md)
#
#   docs/check-boundary.sh <boundary policy ARN> <AppName> [RolePrefix (default LPMA_)]
#
# Evaluates the boundary's default version with IAM's policy simulator
# (simulate-custom-policy), one call per resource, and prints every action the boundary does
# not allow, with the role that needs it. Prints nothing else and exits 0 when all is allowed,
# exits 1 otherwise. Needs the AWS CLI with iam:GetPolicy, iam:GetPolicyVersion and
# iam:SimulateCustomPolicy, and the region of the deployment (AWS_REGION or the CLI profile).
#
# The resources are sample names of your project; override them to match your ScopePatterns:
#   APP_NAME_LC (default: AppName in lower case) builds topic, queue, bucket, ... names;
#   RUNTIME_ID, MEMORY_ID, GATEWAY_ID default to <app>_agent-a1B2c3D4e5, ... .
# A boundary with conditions (aws:RequestedRegion, aws:PrincipalTag/...) needs CONTEXT, e.g.
#   CONTEXT='ContextKeyName=aws:RequestedRegion,ContextKeyValues=eu-west-1,ContextKeyType=string'
#
# The actions below are kept equal to template.yaml by tests/template/test_docs.py.
set -euo pipefail

boundary=${1:?usage: check-boundary.sh <boundary policy ARN> <AppName> [RolePrefix]}
app=${2:?usage: check-boundary.sh <boundary policy ARN> <AppName> [RolePrefix]}
prefix=${3:-LPMA_}
region=${AWS_REGION:-$(aws configure get region)}
account=$(aws sts get-caller-identity --query Account --output text)
partition=$(aws sts get-caller-identity --query Arn --output text | cut -d: -f2)
lc=${APP_NAME_LC:-${app,,}}
runtime=${RUNTIME_ID:-${lc}_agent-a1B2c3D4e5}
memory=${MEMORY_ID:-${lc}_memory-a1B2c3D4e5}
gateway=${GATEWAY_ID:-${lc}-gateway-a1b2c3d4e5}
arn="arn:${partition}"

document=$(mktemp)
trap 'rm -f "$document"' EXIT
version=$(aws iam get-policy --policy-arn "$boundary" --query Policy.DefaultVersionId --output text)
aws iam get-policy-version --policy-arn "$boundary" --version-id "$version" \
  --query PolicyVersion.Document --output json > "$document"

missing=0
current_role=""
role() { current_role="${prefix}${app}_$1"; }
check() {  # check <resource ARN> <action>...
  local resource=$1; shift
  local denied
  denied=$(aws iam simulate-custom-policy --policy-input-list "file://$document" \
    --resource-arns "$resource" --action-names "$@" ${CONTEXT:+--context-entries "$CONTEXT"} \
    --query 'EvaluationResults[?EvalDecision!=`allowed`].[EvalActionName,EvalDecision]' --output text)
  if [ -n "$denied" ]; then
    missing=1
    while read -r action decision; do
      printf '%s needs %s on %s: %s\n' "$current_role" "$action" "$resource" "$decision"
    done <<< "$denied"
  fi
}

key="${arn}:kms:${region}:${account}:key/00000000-0000-0000-0000-000000000000"
dlq="${arn}:sqs:${region}:${account}:${app}-corebound-dlq"
subnet="${arn}:ec2:${region}:${account}:subnet/subnet-00000000000000000"

role RuntimePolicy
check "${arn}:bedrock-agentcore:${region}:${account}:runtime/${runtime}" \
  bedrock-agentcore:GetResourcePolicy bedrock-agentcore:PutResourcePolicy \
  bedrock-agentcore:DeleteResourcePolicy bedrock-agentcore:ListTagsForResource \
  bedrock-agentcore:TagResource bedrock-agentcore:UntagResource
check "${arn}:logs:${region}:${account}:log-group:/aws/lambda/${app}-corebound-runtime-policy:*" \
  logs:CreateLogStream logs:PutLogEvents
check "$key" kms:Decrypt kms:GenerateDataKey
check "$dlq" sqs:SendMessage
check "$subnet" ec2:CreateNetworkInterface ec2:DeleteNetworkInterface \
  ec2:AssignPrivateIpAddresses ec2:UnassignPrivateIpAddresses
check "*" ec2:DescribeNetworkInterfaces ec2:DescribeSubnets

role MemoryGrant
check "${arn}:iam::${account}:role/${prefix}${app}_AgentCoreRuntime" \
  iam:PutRolePolicy iam:DeleteRolePolicy iam:GetRolePolicy iam:GetRole iam:ListRolePolicies \
  iam:ListAttachedRolePolicies iam:SimulatePrincipalPolicy
check "${arn}:iam::${account}:policy/sample" iam:GetPolicy iam:GetPolicyVersion
check "${arn}:bedrock-agentcore:${region}:${account}:runtime/${runtime}" \
  bedrock-agentcore:GetAgentRuntime bedrock-agentcore:ListTagsForResource
check "${arn}:bedrock-agentcore:${region}:${account}:memory/${memory}" \
  bedrock-agentcore:ListTagsForResource
check "${arn}:logs:${region}:${account}:log-group:/aws/lambda/${app}-corebound-memory-grant:*" \
  logs:CreateLogStream logs:PutLogEvents
check "$key" kms:Decrypt kms:GenerateDataKey
check "$dlq" sqs:SendMessage
check "$subnet" ec2:CreateNetworkInterface ec2:DeleteNetworkInterface \
  ec2:AssignPrivateIpAddresses ec2:UnassignPrivateIpAddresses
check "*" ec2:DescribeNetworkInterfaces ec2:DescribeSubnets

role Remediator
check "${arn}:sns:${region}:${account}:${lc}-topic" sns:GetTopicAttributes \
  sns:ListTagsForResource sns:SetTopicAttributes sns:TagResource
check "${arn}:sns:${region}:${account}:${app}-corebound-alerts" sns:Publish
check "${arn}:sqs:${region}:${account}:${lc}-queue" sqs:GetQueueAttributes sqs:ListQueueTags \
  sqs:SetQueueAttributes sqs:TagQueue
check "${arn}:sqs:${region}:${account}:${app}-corebound-deferral" sqs:SendMessage \
  sqs:ReceiveMessage sqs:DeleteMessage sqs:GetQueueAttributes
check "$dlq" sqs:SendMessage
check "${arn}:logs:${region}:${account}:log-group:/aws/lambda/${lc}-function" \
  logs:ListTagsForResource logs:AssociateKmsKey logs:TagResource
check "${arn}:logs:${region}:${account}:log-group:/aws/lambda/${app}-corebound-remediator:*" \
  logs:CreateLogStream logs:PutLogEvents
check "*" logs:DescribeLogGroups kms:ListAliases bedrock-agentcore:ListAgentRuntimes \
  bedrock-agentcore:ListMemories bedrock-agentcore:ListGateways
# the sweep: list calls, its work queue, its reports (the report bucket's name is generated)
check "*" iam:ListRoles kms:ListKeys s3:ListAllMyBuckets secretsmanager:ListSecrets \
  sns:ListTopics sqs:ListQueues tag:GetResources
check "${arn}:sqs:${region}:${account}:${app}-corebound-sweep" sqs:SendMessage \
  sqs:ReceiveMessage sqs:DeleteMessage sqs:GetQueueAttributes
check "${arn}:s3:::${lc}-corebound-reports/sweep-lock.json" s3:GetObject s3:PutObject s3:DeleteObject
check "${arn}:s3:::${lc}-corebound-reports" s3:ListBucket
check "${arn}:s3:::${lc}-bucket" s3:GetBucketTagging s3:GetEncryptionConfiguration \
  s3:GetBucketPolicy s3:GetBucketAcl s3:PutBucketTagging s3:PutEncryptionConfiguration
check "${arn}:secretsmanager:${region}:${account}:secret:${lc}-secret-AbCdEf" \
  secretsmanager:DescribeSecret secretsmanager:TagResource secretsmanager:UpdateSecret
check "${arn}:iam::${account}:role/${prefix}${app}_AgentCoreRuntime" iam:ListRoleTags iam:TagRole
check "$key" kms:Decrypt kms:DescribeKey kms:Encrypt kms:GenerateDataKey \
  kms:GenerateDataKeyWithoutPlaintext kms:GetKeyPolicy kms:ListResourceTags kms:TagResource
check "${arn}:bedrock-agentcore:${region}:${account}:runtime/${runtime}" \
  bedrock-agentcore:GetAgentRuntime bedrock-agentcore:ListTagsForResource bedrock-agentcore:TagResource
check "${arn}:bedrock-agentcore:${region}:${account}:memory/${memory}" \
  bedrock-agentcore:GetMemory bedrock-agentcore:ListTagsForResource bedrock-agentcore:TagResource
check "${arn}:bedrock-agentcore:${region}:${account}:gateway/${gateway}" \
  bedrock-agentcore:GetGateway bedrock-agentcore:ListTagsForResource bedrock-agentcore:TagResource
check "$subnet" ec2:CreateNetworkInterface ec2:DeleteNetworkInterface \
  ec2:AssignPrivateIpAddresses ec2:UnassignPrivateIpAddresses
check "*" ec2:DescribeNetworkInterfaces ec2:DescribeSubnets

role PreflightHook
check "${arn}:cloudformation:${region}:${account}:stack/${lc}-stack/00000000-0000-0000-0000-000000000000" \
  cloudformation:DescribeStacks
check "${arn}:logs:${region}:${account}:log-group:/aws/lambda/${app}-corebound-preflight-hook:*" \
  logs:CreateLogStream logs:PutLogEvents
check "$key" kms:Decrypt
check "$subnet" ec2:CreateNetworkInterface ec2:DeleteNetworkInterface \
  ec2:AssignPrivateIpAddresses ec2:UnassignPrivateIpAddresses
check "*" ec2:DescribeNetworkInterfaces ec2:DescribeSubnets

role PreflightInvoker
check "${arn}:lambda:${region}:${account}:function:${app}-corebound-preflight-hook" lambda:InvokeFunction

exit "$missing"
