//! The operation and error tables against the botocore models pinned in
//! `tests/e2e/requirements.txt` (read from the end-to-end suite's virtualenv, which
//! `.ci/run` creates): every KMS and STS operation of the model has a row, every IAM row is
//! an operation of the model, and every exception of the KMS model is a `KmsError`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation panics"
)]

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};

use kmsd_core::error::{IamError, KmsError, StsError};
use kmsd_core::iam::op::{IamOp, StsOp};
use kmsd_core::kms::KmsOp;

/// `botocore/data/SERVICE/VERSION/service-2.json.gz` in the suite's virtualenv.
fn model(service: &str) -> serde_json::Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/e2e/.venv/lib");
    let found: Option<PathBuf> = std::fs::read_dir(&root)
        .ok()
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|python| {
            python
                .path()
                .join("site-packages/botocore/data")
                .join(service)
        })
        .find(|p| p.is_dir())
        .and_then(|dir| std::fs::read_dir(dir).ok())
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|version| version.path().join("service-2.json.gz"))
        .find(|p| p.is_file());
    let path = found.unwrap_or_else(|| {
        panic!(
            "botocore's {service} model not found under {}: create the end-to-end virtualenv \
             (.ci/run does) before running this test",
            root.display()
        )
    });
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&path).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn operations(m: &serde_json::Value) -> BTreeSet<String> {
    m["operations"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

fn exceptions(m: &serde_json::Value) -> BTreeSet<String> {
    m["shapes"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, s)| s["exception"] == true)
        .map(|(name, s)| s["error"]["code"].as_str().unwrap_or(name).to_string())
        .collect()
}

#[test]
fn every_kms_operation_of_the_model_has_a_row_and_no_row_is_extra() {
    let m = model("kms");
    let table: BTreeSet<String> = KmsOp::ALL.iter().map(|o| o.name().to_string()).collect();
    assert_eq!(operations(&m), table);
}

#[test]
fn every_sts_operation_of_the_model_has_a_row() {
    let m = model("sts");
    let table: BTreeSet<String> = StsOp::ALL.iter().map(|o| o.name().to_string()).collect();
    assert_eq!(operations(&m), table);
}

#[test]
fn every_iam_operation_of_the_model_has_a_row() {
    let m = model("iam");
    let table: BTreeSet<String> = IamOp::ALL.iter().map(|o| o.name().to_string()).collect();
    assert_eq!(operations(&m), table);
    // The operations kmsd serves are the 63 it documents (docs and the wire module list them).
    let served = IamOp::ALL.iter().filter(|o| o.spec().implemented).count();
    assert_eq!(served, 63);
}

#[test]
fn every_kms_exception_of_the_model_is_a_kms_error() {
    for code in exceptions(&model("kms")) {
        assert!(
            KmsError::from_name(&code).is_some(),
            "{code} has no KmsError"
        );
    }
}

#[test]
fn iam_and_sts_codes_are_the_models_or_awsquery_common_errors() {
    // The awsQuery common errors (AWS's "Common Errors" page), which no model lists.
    const COMMON: &[&str] = &[
        "AccessDenied",
        "ExpiredToken",
        "IncompleteSignature",
        "InternalFailure",
        "InvalidAction",
        "InvalidClientTokenId",
        "InvalidParameterValue",
        "MissingAction",
        "MissingAuthenticationToken",
        "OptInRequired",
        "RequestEntityTooLarge",
        "RequestExpired",
        "ServiceUnavailable",
        "SignatureDoesNotMatch",
        "ValidationError",
    ];
    let iam = exceptions(&model("iam"));
    for c in IamError::ALL {
        assert!(
            iam.contains(c.as_str()) || COMMON.contains(&c.as_str()),
            "{c} is neither an IAM error nor a common one"
        );
    }
    let sts = exceptions(&model("sts"));
    for c in StsError::ALL {
        assert!(
            sts.contains(c.as_str())
                || COMMON.contains(&c.as_str())
                || c.as_str() == "ServiceFailure",
            "{c} is neither an STS error nor a common one"
        );
    }
}
