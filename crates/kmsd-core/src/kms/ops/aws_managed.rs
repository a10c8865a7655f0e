//! The AWS managed keys (`aws/<service>`) DescribeKey creates on first use of a predefined
//! `alias/aws/...` alias: their table and key policy.

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::RwLockUpgradableReadGuard;
use serde_json::json;

use crate::error::ApiError;
use crate::kms::authz::Req;
use crate::kms::model::alias::AliasRecord;
use crate::kms::model::entry::KeyEntry;
use crate::kms::model::ids::new_key_id;
use crate::kms::model::key::{
    new_material, KeyRecord, KeySpec, KeyState, KeyUsage, MaterialOrigin, Origin,
};
use crate::kms::model::policy::validate_policy;
use crate::kms::{persist, Kms};

/// Rotation period of AWS managed keys (every year).
const AWS_MANAGED_ROTATION_DAYS: u32 = 365;

/// A predefined AWS managed key alias: `alias/aws/<alias>`, made for the service whose endpoint
/// prefix is `service` (`kms:ViaService` = `<service>.<region>.amazonaws.com`).
pub(crate) struct AwsManaged {
    alias: &'static str,
    service: &'static str,
    title: &'static str,
    protects: &'static str,
}

const fn managed(
    alias: &'static str,
    service: &'static str,
    title: &'static str,
    protects: &'static str,
) -> AwsManaged {
    AwsManaged {
        alias,
        service,
        title,
        protects,
    }
}

/// The predefined aliases of AWS managed keys this server knows.
const AWS_MANAGED: &[AwsManaged] = &[
    managed("acm", "acm", "ACM", "ACM private keys"),
    managed("backup", "backup", "AWS Backup", "AWS Backup backups"),
    managed(
        "codecommit",
        "codecommit",
        "CodeCommit",
        "CodeCommit repositories",
    ),
    managed("dynamodb", "dynamodb", "DynamoDB", "DynamoDB tables"),
    managed("ebs", "ec2", "EBS", "EBS volumes"),
    managed(
        "elasticfilesystem",
        "elasticfilesystem",
        "EFS",
        "EFS file systems",
    ),
    managed("es", "es", "Elasticsearch", "Elasticsearch domains"),
    managed("fsx", "fsx", "FSx", "FSx file systems"),
    managed("glue", "glue", "Glue", "Glue data"),
    managed("kinesis", "kinesis", "Kinesis", "Kinesis streams"),
    managed(
        "kinesisvideo",
        "kinesisvideo",
        "Kinesis Video Streams",
        "Kinesis Video Streams",
    ),
    managed("lambda", "lambda", "Lambda", "Lambda functions"),
    managed("rds", "rds", "RDS", "RDS database volumes"),
    managed("redshift", "redshift", "Redshift", "Redshift databases"),
    managed("s3", "s3", "S3", "S3 objects"),
    managed(
        "secretsmanager",
        "secretsmanager",
        "Secrets Manager",
        "Secrets Manager secrets",
    ),
    managed("sns", "sns", "SNS", "SNS data"),
    managed("sqs", "sqs", "SQS", "SQS messages"),
    managed("ssm", "ssm", "SSM", "SSM parameters"),
    managed("xray", "xray", "X-Ray", "X-Ray data"),
];

/// The predefined AWS managed key alias a `KeyId` names (alias name, or alias ARN of the
/// caller's account and the endpoint's Region), if it names one.
pub(crate) fn predefined_alias(req: &Req<'_>, key_id: &str) -> Option<&'static AwsManaged> {
    let name = match key_id.strip_prefix("arn:") {
        Some(rest) => {
            let mut parts = rest.splitn(5, ':');
            let (_partition, service, region, account, resource) = (
                parts.next()?,
                parts.next()?,
                parts.next()?,
                parts.next()?,
                parts.next()?,
            );
            if service != "kms" || region != req.region() || account != req.account() {
                return None;
            }
            resource
        }
        None => key_id,
    };
    let suffix = name.strip_prefix("alias/aws/")?;
    AWS_MANAGED.iter().find(|m| m.alias == suffix)
}

/// The key policy of an AWS managed key: use through its service by principals of the
/// account, and direct read-only access to the key's metadata for the account.
fn aws_managed_policy(m: &AwsManaged, account: &str, region: &str) -> String {
    let doc = json!({
        "Version": "2012-10-17",
        "Id": format!("auto-{}-2", m.alias),
        "Statement": [
            {
                "Sid": format!(
                    "Allow access through {} for all principals in the account that are authorized to use {}",
                    m.title, m.title
                ),
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": [
                    "kms:Encrypt",
                    "kms:Decrypt",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:CreateGrant",
                    "kms:DescribeKey"
                ],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {
                        "kms:CallerAccount": account,
                        "kms:ViaService": format!("{}.{region}.amazonaws.com", m.service)
                    }
                }
            },
            {
                "Sid": "Allow direct access to key metadata to the account",
                "Effect": "Allow",
                "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
                "Action": ["kms:Describe*", "kms:Get*", "kms:List*"],
                "Resource": "*"
            }
        ]
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

impl Kms {
    /// Create the AWS managed key behind a predefined alias on first use ("If you call the
    /// DescribeKey operation on a predefined AWS alias, that is, an AWS alias with no key ID, KMS
    /// creates an AWS managed key. Then, it associates the alias with the new KMS key").
    pub(crate) fn ensure_aws_managed_key(
        &self,
        req: &Req<'_>,
        managed: &AwsManaged,
    ) -> Result<(), ApiError> {
        let account = req.account().to_string();
        let region = req.region().to_string();
        let name = format!("alias/aws/{}", managed.alias);
        let ak = (account.clone(), region.clone(), name.clone());
        let st = self.state.upgradable_read();
        if st.aliases.contains_key(&ak) {
            return Ok(());
        }
        let text = aws_managed_policy(managed, &account, &region);
        let policy = validate_policy(&text)?;
        let now = self.now();
        let id = new_key_id();
        let (material, info) = new_material(1, now, MaterialOrigin::Creation)?;
        let rec = KeyRecord {
            id: id.clone(),
            account: account.clone(),
            region: region.clone(),
            description: format!(
                "Default key that protects my {} when no other key is defined",
                managed.protects
            ),
            creation_millis: now,
            state: KeyState::Enabled,
            deletion_millis: None,
            pending_window_days: None,
            policy: text,
            tags: BTreeMap::new(),
            // AWS managed keys rotate every year; their rotation cannot be changed.
            rotation_enabled: true,
            rotation_period_days: Some(AWS_MANAGED_ROTATION_DAYS),
            next_rotation_millis: Some(now + i64::from(AWS_MANAGED_ROTATION_DAYS) * 86_400_000),
            materials: vec![info],
            on_demand_rotations: 0,
            aws_managed: true,
            key_spec: KeySpec::SymmetricDefault,
            key_usage: KeyUsage::EncryptDecrypt,
            origin: Origin::AwsKms,
            usage: crate::kms::model::usage::UsageRecord::starting(now),
            primary_region: None,
        };
        let alias = AliasRecord {
            account,
            region,
            name: name.clone(),
            target_key_id: id.clone(),
            creation_millis: now,
            last_updated_millis: now,
        };
        let entry = KeyEntry {
            arn: rec.arn(),
            last_use: crate::kms::model::last_use::LastUse::from_record(&rec.usage),
            rec,
            materials: vec![Some(Arc::new(material.clone()))],
            mac: None,
            asym: None,
            policy,
            grants: BTreeMap::new(),
            grant_view: Arc::default(),
            aliases: vec![name],
        };
        let muts = vec![
            persist::put_key(&entry.rec)?,
            persist::put_material(&self.root_key, &id, 1, &material)?,
            persist::put_alias(&alias)?,
        ];
        self.commit(&muts)?;
        let mut st = RwLockUpgradableReadGuard::upgrade(st);
        st.keys.insert(id, entry);
        st.aliases.insert(ak, alias);
        self.recompute_due(&st);
        Ok(())
    }
}
