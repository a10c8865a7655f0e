//! `kmsd-sdk-rust-check`: drives a running kmsd with unmodified aws-sdk-rust clients.
//!
//! It starts nothing: `tests/e2e/test_sdk_rust.py` starts `kmsd serve` with the shipped
//! `examples/seed-world.json` and passes the endpoint, the region and the seed credentials
//! (read from that file) through the environment:
//!
//! - `SDK_CHECK_ENDPOINT` (e.g. `http://127.0.0.1:40123`), `SDK_CHECK_REGION` (`us-west-2`)
//! - `SDK_CHECK_{ROOT_A,ALICE,BOB}_{ACCESS_KEY_ID,SECRET_ACCESS_KEY}`: the root of account
//!   111122223333 and its users alice and bob.
//!
//! Clients are built the way an application builds them (`aws_config::defaults` with
//! `endpoint_url`, `region`, `credentials_provider`), with a plain-http client and retries
//! off. Each check prints `ok <name>` or `FAIL <name>: <reason>`; the exit status is 0 when
//! every selected check passed, 1 when one failed, 2 on a usage or environment error.
//!
//! `sign-verify` also prints `sign-verify public-key=<hex> message=<hex> signature=<hex>` on
//! stderr (the GetPublicKey DER, the message, the Sign output), so that the caller verifies the
//! signature with an independent implementation.
//!
//! Usage: `kmsd-sdk-rust-check [--list] [CHECK...]` (no CHECK runs them all).

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{
    DataKeySpec, KeySpec, KeyState, KeyUsageType, MessageType, SigningAlgorithmSpec,
};
use aws_sdk_sts::config::Credentials;

/// The seed page's accounts, keys and role, as declared in `examples/seed-world.json`.
mod seed {
    pub const ACCT_A: &str = "111122223333";
    pub const ACCT_B: &str = "444455556666";
    /// Example 1: a key of account A whose key policy delegates to IAM; alice has no policy.
    pub const ALICE_KEY_ARN: &str =
        "arn:aws:kms:us-west-2:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321";
    pub const ALICE_ARN: &str = "arn:aws:iam::111122223333:user/alice";
    pub const BOB_ARN: &str = "arn:aws:iam::111122223333:user/bob";
    /// Example 2: a key of account B usable from account A through ExampleRole.
    pub const EXAMPLE_KEY_ARN: &str =
        "arn:aws:kms:us-west-2:444455556666:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    pub const EXAMPLE_ALIAS_ARN: &str = "arn:aws:kms:us-west-2:444455556666:alias/example-2";
    pub const ROLE_ARN: &str = "arn:aws:iam::111122223333:role/ExampleRole";
}

/// A check's outcome: `Err` carries a one-line reason.
type Outcome = Result<(), String>;

/// Fails the check with a formatted reason unless `cond` holds.
macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!($($fmt)+));
        }
    };
}

/// Fails the check unless `left == right`, naming what was compared.
macro_rules! ensure_eq {
    ($left:expr, $right:expr, $what:expr) => {{
        let (l, r) = (&$left, &$right);
        if l != r {
            return Err(format!("{}: got {:?}, want {:?}", $what, l, r));
        }
    }};
}

/// A long-term or session credential pair (secrets are only passed to the SDK).
#[derive(Clone)]
struct Creds {
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
}

impl Creds {
    fn from_env(who: &str) -> Result<Self, String> {
        Ok(Self {
            access_key_id: env(&format!("SDK_CHECK_{who}_ACCESS_KEY_ID"))?,
            secret_access_key: env(&format!("SDK_CHECK_{who}_SECRET_ACCESS_KEY"))?,
            session_token: None,
        })
    }

    fn with_secret(&self, secret: &str) -> Self {
        Self {
            secret_access_key: secret.to_owned(),
            ..self.clone()
        }
    }
}

fn env(name: &str) -> Result<String, String> {
    std::env::var(name)
        .map_err(|_| format!("{name} is not set (tests/e2e/test_sdk_rust.py sets it)"))
}

/// What the harness passed in.
struct Ctx {
    endpoint: String,
    region: String,
    root_a: Creds,
    alice: Creds,
    bob: Creds,
    /// Makes alias names unique across runs against the same server.
    run_id: String,
}

impl Ctx {
    fn from_env() -> Result<Self, String> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        Ok(Self {
            endpoint: env("SDK_CHECK_ENDPOINT")?,
            region: env("SDK_CHECK_REGION")?,
            root_a: Creds::from_env("ROOT_A")?,
            alice: Creds::from_env("ALICE")?,
            bob: Creds::from_env("BOB")?,
            run_id: format!("{}-{}", std::process::id(), nanos % 1_000_000_000),
        })
    }

    /// Shared SDK configuration for `creds`, built as an application would build it.
    async fn sdk_config(&self, creds: &Creds) -> SdkConfig {
        let http = aws_smithy_http_client::Builder::new().build_http();
        aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region(Region::new(self.region.clone()))
            .credentials_provider(Credentials::new(
                creds.access_key_id.clone(),
                creds.secret_access_key.clone(),
                creds.session_token.clone(),
                None,
                "kmsd-sdk-rust-check",
            ))
            .http_client(http)
            .retry_config(RetryConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(5))
                    .operation_timeout(Duration::from_secs(60))
                    .build(),
            )
            .load()
            .await
    }

    async fn kms(&self, creds: &Creds) -> aws_sdk_kms::Client {
        aws_sdk_kms::Client::new(&self.sdk_config(creds).await)
    }

    async fn sts(&self, creds: &Creds) -> aws_sdk_sts::Client {
        aws_sdk_sts::Client::new(&self.sdk_config(creds).await)
    }
}

/// The HTTP status of the response behind an SDK error (0 when there was none).
fn http_status<E>(err: &SdkError<E>) -> u16 {
    err.raw_response().map(|r| r.status().as_u16()).unwrap_or(0)
}

/// One line describing an SDK error: code, HTTP status and message.
fn describe<E: ProvideErrorMetadata + std::fmt::Debug>(err: &SdkError<E>) -> String {
    match err.as_service_error() {
        Some(e) => format!(
            "{} (HTTP {}): {}",
            e.code().unwrap_or("<no code>"),
            http_status(err),
            e.message().unwrap_or("<no message>")
        ),
        None => format!("{err:?}"),
    }
}

/// Expects a service error with `code` and HTTP `status`; returns its message.
fn expect_error<T: std::fmt::Debug, E: ProvideErrorMetadata + std::fmt::Debug>(
    result: Result<T, SdkError<E>>,
    code: &str,
    status: u16,
) -> Result<(String, E), String> {
    match result {
        Ok(v) => Err(format!("expected {code}, the call succeeded: {v:?}")),
        Err(err) => {
            let got_status = http_status(&err);
            let line = describe(&err);
            let Some(service) = err.into_service_error_opt() else {
                return Err(format!("expected {code}, got a non-service error: {line}"));
            };
            ensure!(service.code() == Some(code), "expected {code}, got {line}");
            ensure!(
                got_status == status,
                "{code}: HTTP {got_status}, want {status}"
            );
            Ok((service.message().unwrap_or_default().to_owned(), service))
        }
    }
}

/// `SdkError::into_service_error` panics-free variant: `None` for transport errors.
trait IntoServiceErrorOpt<E> {
    fn into_service_error_opt(self) -> Option<E>;
}

impl<E, R> IntoServiceErrorOpt<E> for SdkError<E, R> {
    fn into_service_error_opt(self) -> Option<E> {
        match self {
            SdkError::ServiceError(ctx) => Some(ctx.into_err()),
            _ => None,
        }
    }
}

fn sdk<T, E: ProvideErrorMetadata + std::fmt::Debug>(
    what: &str,
    result: Result<T, SdkError<E>>,
) -> Result<T, String> {
    result.map_err(|err| format!("{what} failed: {}", describe(&err)))
}

fn denied_message(principal: &str, action: &str, resource: &str) -> String {
    format!(
        "User: {principal} is not authorized to perform: {action} on resource: {resource} \
         because no identity-based policy allows the {action} action"
    )
}

/// Creates a symmetric key as the root of account A; returns its ARN.
async fn create_key(kms: &aws_sdk_kms::Client, description: &str) -> Result<String, String> {
    let out = sdk(
        "CreateKey",
        kms.create_key().description(description).send().await,
    )?;
    let meta = out
        .key_metadata()
        .ok_or("CreateKey returned no KeyMetadata")?;
    meta.arn()
        .map(str::to_owned)
        .ok_or_else(|| "CreateKey returned no Arn".to_owned())
}

// ------------------------------------------------------------------------------- checks

async fn create_describe(ctx: &Ctx) -> Outcome {
    let kms = ctx.kms(&ctx.root_a).await;
    let out = sdk(
        "CreateKey",
        kms.create_key()
            .description("sdk-rust create")
            .key_usage(KeyUsageType::EncryptDecrypt)
            .key_spec(KeySpec::SymmetricDefault)
            .send()
            .await,
    )?;
    let created = out
        .key_metadata()
        .ok_or("CreateKey returned no KeyMetadata")?;
    let key_id = created.key_id().to_owned();
    let arn = created.arn().unwrap_or_default().to_owned();
    ensure_eq!(
        arn,
        format!("arn:aws:kms:{}:{}:key/{key_id}", ctx.region, seed::ACCT_A),
        "CreateKey Arn"
    );
    ensure!(
        created.creation_date().is_some(),
        "CreateKey: no CreationDate"
    );

    for by in [key_id.as_str(), arn.as_str()] {
        let out = sdk("DescribeKey", kms.describe_key().key_id(by).send().await)?;
        let m = out
            .key_metadata()
            .ok_or("DescribeKey returned no KeyMetadata")?;
        ensure_eq!(m.key_id(), key_id.as_str(), "DescribeKey KeyId");
        ensure_eq!(m.arn(), Some(arn.as_str()), "DescribeKey Arn");
        ensure_eq!(
            m.aws_account_id(),
            Some(seed::ACCT_A),
            "DescribeKey AWSAccountId"
        );
        ensure_eq!(
            m.description(),
            Some("sdk-rust create"),
            "DescribeKey Description"
        );
        ensure_eq!(
            m.key_state(),
            Some(&KeyState::Enabled),
            "DescribeKey KeyState"
        );
        ensure!(m.enabled(), "DescribeKey: Enabled is false");
        ensure_eq!(
            m.key_usage(),
            Some(&KeyUsageType::EncryptDecrypt),
            "DescribeKey KeyUsage"
        );
        ensure_eq!(
            m.key_spec(),
            Some(&KeySpec::SymmetricDefault),
            "DescribeKey KeySpec"
        );
    }

    let missing = format!(
        "arn:aws:kms:{}:{}:key/00000000-0000-4000-8000-000000000000",
        ctx.region,
        seed::ACCT_A
    );
    let (_, err) = expect_error(
        kms.describe_key().key_id(&missing).send().await,
        "NotFoundException",
        400,
    )?;
    ensure!(
        err.is_not_found_exception(),
        "DescribeKey of a missing key: not a typed NotFoundException: {err:?}"
    );
    Ok(())
}

async fn encrypt_decrypt_context(ctx: &Ctx) -> Outcome {
    let kms = ctx.kms(&ctx.root_a).await;
    let arn = create_key(&kms, "sdk-rust encrypt").await?;
    let plaintext = b"sdk-rust: attack at dawn".to_vec();
    let context: HashMap<String, String> = [
        ("purpose".to_owned(), "sdk-rust".to_owned()),
        ("tenant".to_owned(), "t-1".to_owned()),
    ]
    .into();

    let enc = sdk(
        "Encrypt",
        kms.encrypt()
            .key_id(&arn)
            .plaintext(Blob::new(plaintext.clone()))
            .set_encryption_context(Some(context.clone()))
            .send()
            .await,
    )?;
    ensure_eq!(enc.key_id(), Some(arn.as_str()), "Encrypt KeyId");
    let blob = enc
        .ciphertext_blob()
        .ok_or("Encrypt returned no CiphertextBlob")?
        .clone();
    ensure!(
        !blob
            .as_ref()
            .windows(plaintext.len())
            .any(|w| w == plaintext.as_slice()),
        "the ciphertext contains the plaintext"
    );

    let dec = sdk(
        "Decrypt",
        kms.decrypt()
            .ciphertext_blob(blob.clone())
            .set_encryption_context(Some(context.clone()))
            .send()
            .await,
    )?;
    ensure_eq!(
        dec.plaintext().map(|b| b.as_ref().to_vec()),
        Some(plaintext),
        "Decrypt Plaintext"
    );
    ensure_eq!(dec.key_id(), Some(arn.as_str()), "Decrypt KeyId");

    // A different context value, and no context at all, both fail authentication.
    let mut wrong = context.clone();
    wrong.insert("tenant".to_owned(), "t-2".to_owned());
    let attempts = [
        ("a wrong encryption context", Some(wrong)),
        ("no encryption context", None),
    ];
    for (what, ec) in attempts {
        let (_, err) = expect_error(
            kms.decrypt()
                .ciphertext_blob(blob.clone())
                .set_encryption_context(ec)
                .send()
                .await,
            "InvalidCiphertextException",
            400,
        )
        .map_err(|e| format!("Decrypt with {what}: {e}"))?;
        ensure!(
            err.is_invalid_ciphertext_exception(),
            "Decrypt with {what}: not a typed InvalidCiphertextException: {err:?}"
        );
    }
    Ok(())
}

async fn generate_data_key(ctx: &Ctx) -> Outcome {
    let kms = ctx.kms(&ctx.root_a).await;
    let arn = create_key(&kms, "sdk-rust data keys").await?;
    let context: HashMap<String, String> = [("file".to_owned(), "report.pdf".to_owned())].into();
    let dk = sdk(
        "GenerateDataKey",
        kms.generate_data_key()
            .key_id(&arn)
            .key_spec(DataKeySpec::Aes256)
            .set_encryption_context(Some(context.clone()))
            .send()
            .await,
    )?;
    ensure_eq!(dk.key_id(), Some(arn.as_str()), "GenerateDataKey KeyId");
    let plain = dk
        .plaintext()
        .ok_or("GenerateDataKey returned no Plaintext")?
        .as_ref()
        .to_vec();
    ensure_eq!(plain.len(), 32, "GenerateDataKey Plaintext length");
    ensure!(
        plain.iter().any(|b| *b != 0),
        "GenerateDataKey Plaintext is all zero"
    );
    let blob = dk
        .ciphertext_blob()
        .ok_or("GenerateDataKey returned no CiphertextBlob")?
        .clone();

    let dec = sdk(
        "Decrypt",
        kms.decrypt()
            .ciphertext_blob(blob)
            .key_id(&arn)
            .set_encryption_context(Some(context))
            .send()
            .await,
    )?;
    ensure_eq!(
        dec.plaintext().map(|b| b.as_ref().to_vec()),
        Some(plain.clone()),
        "Decrypt of the data key"
    );

    let other = sdk(
        "GenerateDataKey",
        kms.generate_data_key()
            .key_id(&arn)
            .number_of_bytes(32)
            .send()
            .await,
    )?;
    ensure!(
        other.plaintext().map(|b| b.as_ref()) != Some(plain.as_slice()),
        "two GenerateDataKey calls returned the same key"
    );
    Ok(())
}

async fn alias(ctx: &Ctx) -> Outcome {
    let kms = ctx.kms(&ctx.root_a).await;
    let arn = create_key(&kms, "sdk-rust alias").await?;
    let name = format!("alias/sdk-rust-{}", ctx.run_id);
    sdk(
        "CreateAlias",
        kms.create_alias()
            .alias_name(&name)
            .target_key_id(&arn)
            .send()
            .await,
    )?;

    let enc = sdk(
        "Encrypt by alias name",
        kms.encrypt()
            .key_id(&name)
            .plaintext(Blob::new(b"via alias".to_vec()))
            .send()
            .await,
    )?;
    ensure_eq!(enc.key_id(), Some(arn.as_str()), "Encrypt by alias: KeyId");
    let blob = enc
        .ciphertext_blob()
        .ok_or("Encrypt returned no CiphertextBlob")?
        .clone();
    let dec = sdk(
        "Decrypt",
        kms.decrypt()
            .ciphertext_blob(blob)
            .key_id(&name)
            .send()
            .await,
    )?;
    ensure_eq!(
        dec.plaintext().map(|b| b.as_ref().to_vec()),
        Some(b"via alias".to_vec()),
        "Decrypt by alias"
    );

    let alias_arn = format!("arn:aws:kms:{}:{}:{name}", ctx.region, seed::ACCT_A);
    let desc = sdk(
        "DescribeKey by alias ARN",
        kms.describe_key().key_id(&alias_arn).send().await,
    )?;
    ensure_eq!(
        desc.key_metadata().and_then(|m| m.arn()),
        Some(arn.as_str()),
        "DescribeKey by alias ARN"
    );

    let listed = sdk("ListAliases", kms.list_aliases().key_id(&arn).send().await)?;
    let found = listed
        .aliases()
        .iter()
        .find(|a| a.alias_name() == Some(name.as_str()));
    let found = found.ok_or_else(|| format!("ListAliases for the key does not list {name}"))?;
    ensure_eq!(
        found.alias_arn(),
        Some(alias_arn.as_str()),
        "ListAliases AliasArn"
    );
    ensure!(
        found.target_key_id().is_some_and(|id| arn.ends_with(id)),
        "ListAliases TargetKeyId: {found:?}"
    );

    let (_, err) = expect_error(
        kms.create_alias()
            .alias_name(&name)
            .target_key_id(&arn)
            .send()
            .await,
        "AlreadyExistsException",
        400,
    )?;
    ensure!(
        err.is_already_exists_exception(),
        "second CreateAlias: not a typed AlreadyExistsException"
    );
    Ok(())
}

async fn list_keys_paginator(ctx: &Ctx) -> Outcome {
    let kms = ctx.kms(&ctx.root_a).await;
    let mut created = HashSet::new();
    for i in 0..3 {
        created.insert(create_key(&kms, &format!("sdk-rust page {i}")).await?);
    }
    // One key per page: the paginator must follow NextMarker until Truncated is false.
    let pages = kms
        .list_keys()
        .limit(1)
        .into_paginator()
        .send()
        .collect::<Vec<_>>()
        .await;
    let page_count = pages.len();
    let mut seen = Vec::new();
    for page in pages {
        let page = sdk("ListKeys page", page)?;
        ensure!(
            page.keys().len() <= 1,
            "ListKeys returned {} keys with Limit=1",
            page.keys().len()
        );
        seen.extend(
            page.keys()
                .iter()
                .filter_map(|k| k.key_arn().map(str::to_owned)),
        );
    }
    let unique: HashSet<_> = seen.iter().cloned().collect();
    ensure_eq!(unique.len(), seen.len(), "ListKeys pages repeat a key");
    // Limit=1: one request per key, so the paginator followed NextMarker page by page.
    ensure!(
        page_count >= seen.len() && page_count > created.len(),
        "ListKeys: {page_count} pages for {} keys",
        seen.len()
    );
    ensure!(
        created.is_subset(&unique),
        "ListKeys misses created keys: {:?}",
        created.difference(&unique)
    );
    ensure!(
        unique.contains(seed::ALICE_KEY_ARN),
        "ListKeys misses the seed key {}",
        seed::ALICE_KEY_ARN
    );
    ensure!(
        unique.iter().all(|k| k.starts_with(&format!(
            "arn:aws:kms:{}:{}:key/",
            ctx.region,
            seed::ACCT_A
        ))),
        "ListKeys lists a key of another account or region: {unique:?}"
    );

    // The items paginator flattens the same keys.
    let items = kms
        .list_keys()
        .limit(2)
        .into_paginator()
        .items()
        .send()
        .collect::<Vec<_>>()
        .await;
    let mut flat = HashSet::new();
    for item in items {
        let entry = sdk("ListKeys item", item)?;
        flat.insert(entry.key_arn().unwrap_or_default().to_owned());
    }
    ensure_eq!(flat, unique, "ListKeys items paginator");
    Ok(())
}

async fn seed_alice_denied(ctx: &Ctx) -> Outcome {
    let kms = ctx.kms(&ctx.alice).await;
    for key_id in [seed::ALICE_KEY_ARN, "0987dcba-09fe-87dc-65ba-ab0987654321"] {
        // KMS's model has no AccessDeniedException shape: the SDK reports it by its code.
        let (message, _) = expect_error(
            kms.encrypt()
                .key_id(key_id)
                .plaintext(Blob::new(b"hello".to_vec()))
                .send()
                .await,
            "AccessDeniedException",
            400,
        )
        .map_err(|e| format!("alice Encrypt with KeyId {key_id}: {e}"))?;
        ensure_eq!(
            message,
            denied_message(seed::ALICE_ARN, "kms:Encrypt", seed::ALICE_KEY_ARN),
            "alice Encrypt: message"
        );
    }

    let who = sdk(
        "alice GetCallerIdentity",
        ctx.sts(&ctx.alice).await.get_caller_identity().send().await,
    )?;
    ensure_eq!(
        who.arn(),
        Some(seed::ALICE_ARN),
        "alice GetCallerIdentity Arn"
    );

    let (message, _) = expect_error(
        ctx.sts(&ctx.alice)
            .await
            .assume_role()
            .role_arn(seed::ROLE_ARN)
            .role_session_name("nope")
            .send()
            .await,
        "AccessDenied",
        403,
    )
    .map_err(|e| format!("alice AssumeRole: {e}"))?;
    ensure!(
        message.starts_with(&format!(
            "User: {} is not authorized to perform: sts:AssumeRole",
            seed::ALICE_ARN
        )),
        "alice AssumeRole message: {message:?}"
    );
    Ok(())
}

async fn seed_bob_cross_account(ctx: &Ctx) -> Outcome {
    // bob himself has no KMS permission on the key of account B.
    let (message, _) = expect_error(
        ctx.kms(&ctx.bob)
            .await
            .encrypt()
            .key_id(seed::EXAMPLE_KEY_ARN)
            .plaintext(Blob::new(b"x".to_vec()))
            .send()
            .await,
        "AccessDeniedException",
        400,
    )
    .map_err(|e| format!("bob Encrypt: {e}"))?;
    ensure!(
        message.contains(seed::BOB_ARN),
        "bob Encrypt denial does not name bob: {message:?}"
    );

    let sts = ctx.sts(&ctx.bob).await;
    let resp = sdk(
        "bob AssumeRole",
        sts.assume_role()
            .role_arn(seed::ROLE_ARN)
            .role_session_name("sdk-rust")
            .send()
            .await,
    )?;
    let session_arn = format!(
        "arn:aws:sts::{}:assumed-role/ExampleRole/sdk-rust",
        seed::ACCT_A
    );
    ensure_eq!(
        resp.assumed_role_user().map(|u| u.arn()),
        Some(session_arn.as_str()),
        "AssumedRoleUser Arn"
    );
    let c = resp
        .credentials()
        .ok_or("AssumeRole returned no Credentials")?;
    ensure!(
        c.access_key_id().starts_with("ASIA") && c.access_key_id().len() == 20,
        "session access key id {:?}",
        c.access_key_id()
    );
    ensure!(
        !c.session_token().is_empty(),
        "AssumeRole returned an empty SessionToken"
    );
    let session = Creds {
        access_key_id: c.access_key_id().to_owned(),
        secret_access_key: c.secret_access_key().to_owned(),
        session_token: Some(c.session_token().to_owned()),
    };

    let who = sdk(
        "session GetCallerIdentity",
        ctx.sts(&session).await.get_caller_identity().send().await,
    )?;
    ensure_eq!(
        who.arn(),
        Some(session_arn.as_str()),
        "session GetCallerIdentity Arn"
    );
    ensure_eq!(
        who.account(),
        Some(seed::ACCT_A),
        "session GetCallerIdentity Account"
    );

    let kms = ctx.kms(&session).await;
    let enc = sdk(
        "session Encrypt",
        kms.encrypt()
            .key_id(seed::EXAMPLE_KEY_ARN)
            .plaintext(Blob::new(b"cross-account secret".to_vec()))
            .send()
            .await,
    )?;
    ensure_eq!(
        enc.key_id(),
        Some(seed::EXAMPLE_KEY_ARN),
        "session Encrypt KeyId"
    );
    let blob = enc
        .ciphertext_blob()
        .ok_or("Encrypt returned no CiphertextBlob")?
        .clone();
    let dec = sdk(
        "session Decrypt",
        kms.decrypt()
            .ciphertext_blob(blob)
            .key_id(seed::EXAMPLE_KEY_ARN)
            .send()
            .await,
    )?;
    ensure_eq!(
        dec.plaintext().map(|b| b.as_ref().to_vec()),
        Some(b"cross-account secret".to_vec()),
        "session Decrypt Plaintext"
    );

    let dk = sdk(
        "session GenerateDataKey",
        kms.generate_data_key()
            .key_id(seed::EXAMPLE_KEY_ARN)
            .key_spec(DataKeySpec::Aes256)
            .send()
            .await,
    )?;
    let plain = dk
        .plaintext()
        .ok_or("GenerateDataKey returned no Plaintext")?
        .as_ref()
        .to_vec();
    ensure_eq!(plain.len(), 32, "session GenerateDataKey Plaintext length");
    let blob = dk
        .ciphertext_blob()
        .ok_or("GenerateDataKey returned no CiphertextBlob")?
        .clone();
    let dec = sdk(
        "session Decrypt of the data key",
        kms.decrypt().ciphertext_blob(blob).send().await,
    )?;
    ensure_eq!(
        dec.plaintext().map(|b| b.as_ref().to_vec()),
        Some(plain),
        "session Decrypt of the data key"
    );

    let desc = sdk(
        "session DescribeKey",
        kms.describe_key()
            .key_id(seed::EXAMPLE_KEY_ARN)
            .send()
            .await,
    )?;
    ensure_eq!(
        desc.key_metadata().and_then(|m| m.aws_account_id()),
        Some(seed::ACCT_B),
        "session DescribeKey AWSAccountId"
    );

    let via_alias = sdk(
        "session Encrypt by alias ARN",
        kms.encrypt()
            .key_id(seed::EXAMPLE_ALIAS_ARN)
            .plaintext(Blob::new(b"via alias".to_vec()))
            .send()
            .await,
    )?;
    ensure_eq!(
        via_alias.key_id(),
        Some(seed::EXAMPLE_KEY_ARN),
        "Encrypt by alias ARN: KeyId"
    );

    // The key policy gives account A only the cryptographic actions, not CreateGrant.
    let (message, _) = expect_error(
        kms.create_grant()
            .key_id(seed::EXAMPLE_KEY_ARN)
            .grantee_principal(seed::ROLE_ARN)
            .operations(aws_sdk_kms::types::GrantOperation::Decrypt)
            .send()
            .await,
        "AccessDeniedException",
        400,
    )
    .map_err(|e| format!("session CreateGrant: {e}"))?;
    ensure!(
        message.contains("kms:CreateGrant"),
        "session CreateGrant message: {message:?}"
    );
    Ok(())
}

async fn bad_signature(ctx: &Ctx) -> Outcome {
    let wrong = ctx
        .root_a
        .with_secret("not-the-secret-000000000000000000000000");
    let (message, _) = expect_error(
        ctx.kms(&wrong).await.list_keys().send().await,
        "InvalidSignatureException",
        400,
    )
    .map_err(|e| format!("KMS with a wrong secret: {e}"))?;
    ensure!(
        message.to_lowercase().contains("signature"),
        "KMS wrong-secret message: {message:?}"
    );

    expect_error(
        ctx.sts(&wrong).await.get_caller_identity().send().await,
        "SignatureDoesNotMatch",
        403,
    )
    .map_err(|e| format!("STS with a wrong secret: {e}"))?;

    let unknown = Creds {
        access_key_id: "AKIAUNKNOWN000000000".to_owned(),
        ..wrong
    };
    expect_error(
        ctx.kms(&unknown).await.list_keys().send().await,
        "UnrecognizedClientException",
        400,
    )
    .map_err(|e| format!("KMS with an unknown access key: {e}"))?;
    expect_error(
        ctx.sts(&unknown).await.get_caller_identity().send().await,
        "InvalidClientTokenId",
        403,
    )
    .map_err(|e| format!("STS with an unknown access key: {e}"))?;

    // The right secret still works on the same endpoint.
    sdk(
        "KMS ListKeys with the right secret",
        ctx.kms(&ctx.root_a).await.list_keys().send().await,
    )?;
    Ok(())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// An ECC_NIST_P256 signing key: Sign (RAW, ECDSA_SHA_256), Verify of that signature, Verify of
/// a changed message (a typed KMSInvalidSignatureException), GetPublicKey with the key's
/// signing algorithms; the public key, message and signature go to stderr for the caller.
async fn sign_verify(ctx: &Ctx) -> Outcome {
    let kms = ctx.kms(&ctx.root_a).await;
    let created = sdk(
        "CreateKey",
        kms.create_key()
            .description("sdk-rust sign")
            .key_spec(KeySpec::EccNistP256)
            .key_usage(KeyUsageType::SignVerify)
            .send()
            .await,
    )?;
    let arn = created
        .key_metadata()
        .and_then(|m| m.arn())
        .ok_or("CreateKey returned no Arn")?
        .to_owned();
    let message = b"sdk-rust: signed by kmsd".to_vec();
    let signed = sdk(
        "Sign",
        kms.sign()
            .key_id(&arn)
            .message(Blob::new(message.clone()))
            .message_type(MessageType::Raw)
            .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
            .send()
            .await,
    )?;
    ensure_eq!(signed.key_id(), Some(arn.as_str()), "Sign KeyId");
    ensure_eq!(
        signed.signing_algorithm(),
        Some(&SigningAlgorithmSpec::EcdsaSha256),
        "Sign SigningAlgorithm"
    );
    let signature = signed
        .signature()
        .ok_or("Sign returned no Signature")?
        .clone();
    let verified = sdk(
        "Verify",
        kms.verify()
            .key_id(&arn)
            .message(Blob::new(message.clone()))
            .message_type(MessageType::Raw)
            .signature(signature.clone())
            .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
            .send()
            .await,
    )?;
    ensure!(
        verified.signature_valid(),
        "Verify of kmsd's own signature: not valid"
    );
    let (_, err) = expect_error(
        kms.verify()
            .key_id(&arn)
            .message(Blob::new(b"another message".to_vec()))
            .signature(signature.clone())
            .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
            .send()
            .await,
        "KMSInvalidSignatureException",
        400,
    )
    .map_err(|e| format!("Verify of another message: {e}"))?;
    ensure!(
        err.is_kms_invalid_signature_exception(),
        "Verify of another message: not a typed KMSInvalidSignatureException: {err:?}"
    );
    let public = sdk(
        "GetPublicKey",
        kms.get_public_key().key_id(&arn).send().await,
    )?;
    ensure_eq!(
        public.signing_algorithms(),
        &[SigningAlgorithmSpec::EcdsaSha256][..],
        "GetPublicKey SigningAlgorithms"
    );
    let der = public
        .public_key()
        .ok_or("GetPublicKey returned no PublicKey")?;
    eprintln!(
        "sign-verify public-key={} message={} signature={}",
        hex(der.as_ref()),
        hex(&message),
        hex(signature.as_ref())
    );
    Ok(())
}

// -------------------------------------------------------------------------------- runner

type CheckFuture<'a> = Pin<Box<dyn Future<Output = Outcome> + 'a>>;
type Check = for<'a> fn(&'a Ctx) -> CheckFuture<'a>;

/// Every check, in run order.
const CHECKS: &[(&str, Check)] = &[
    ("create-describe", |c| Box::pin(create_describe(c))),
    ("encrypt-decrypt-context", |c| {
        Box::pin(encrypt_decrypt_context(c))
    }),
    ("generate-data-key", |c| Box::pin(generate_data_key(c))),
    ("alias", |c| Box::pin(alias(c))),
    ("list-keys-paginator", |c| Box::pin(list_keys_paginator(c))),
    ("seed-alice-denied", |c| Box::pin(seed_alice_denied(c))),
    ("seed-bob-cross-account", |c| {
        Box::pin(seed_bob_cross_account(c))
    }),
    ("bad-signature", |c| Box::pin(bad_signature(c))),
    ("sign-verify", |c| Box::pin(sign_verify(c))),
];

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        for (name, _) in CHECKS {
            println!("{name}");
        }
        return ExitCode::SUCCESS;
    }
    if let Some(unknown) = args.iter().find(|a| !CHECKS.iter().any(|(n, _)| n == a)) {
        eprintln!("unknown check {unknown:?}; --list names them");
        return ExitCode::from(2);
    }
    let ctx = match Ctx::from_env() {
        Ok(ctx) => ctx,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let mut failed = 0;
    for (name, check) in CHECKS {
        if !args.is_empty() && !args.iter().any(|a| a == name) {
            continue;
        }
        match check(&ctx).await {
            Ok(()) => println!("ok {name}"),
            Err(reason) => {
                failed += 1;
                println!("FAIL {name}: {reason}");
            }
        }
    }
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
