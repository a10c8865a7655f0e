//! Fuzz the policy validator for every kind it accepts: any UTF-8 text gives findings or a
//! bad-input error, never a panic; every location lies inside the document with its start
//! before its end; a document kmsd's parser refuses has at least one ERROR finding.
#![no_main]

use kmsd_policy::validate::{findings_json, validate_policy, FindingType, ValidateOptions};
use kmsd_policy::{Policy, PolicyKind};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let chars = text.chars().count();
    let options = ValidateOptions {
        account: Some("111122223333".into()),
    };
    for kind in [
        PolicyKind::Key,
        PolicyKind::Identity,
        PolicyKind::Trust,
        PolicyKind::Session,
    ] {
        let Ok(findings) = validate_policy(text, kind, &options) else {
            continue;
        };
        for f in &findings {
            assert!(!f.details.is_empty());
            for l in &f.locations {
                assert!(l.start.offset <= l.end.offset, "{f:?}");
                assert!(l.end.offset <= chars, "{f:?}");
                assert!(l.start.line >= 1);
            }
        }
        let _ = findings_json(&findings).to_string();
        if Policy::parse(text, kind).is_err() {
            assert!(
                findings
                    .iter()
                    .any(|f| f.finding_type == FindingType::Error),
                "kmsd refuses this {kind:?} policy but validation found no error: {findings:?}"
            );
        }
    }
});
