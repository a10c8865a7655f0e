//! What exists: the actions and condition keys of the services kmsd answers for (KMS, and
//! STS in trust policies), the global `aws:` condition keys, and the nearest valid name for
//! a misspelt one.

/// Every AWS KMS action (Service Authorization Reference, "Actions defined by AWS Key
/// Management Service").
pub const KMS_ACTIONS: &[&str] = &[
    "kms:CancelKeyDeletion",
    "kms:ConnectCustomKeyStore",
    "kms:CreateAlias",
    "kms:CreateCustomKeyStore",
    "kms:CreateGrant",
    "kms:CreateKey",
    "kms:Decrypt",
    "kms:DeleteAlias",
    "kms:DeleteCustomKeyStore",
    "kms:DeleteImportedKeyMaterial",
    "kms:DeriveSharedSecret",
    "kms:DescribeCustomKeyStores",
    "kms:DescribeKey",
    "kms:DisableKey",
    "kms:DisableKeyRotation",
    "kms:DisconnectCustomKeyStore",
    "kms:EnableKey",
    "kms:EnableKeyRotation",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyPair",
    "kms:GenerateDataKeyPairWithoutPlaintext",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:GenerateMac",
    "kms:GenerateRandom",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:GetParametersForImport",
    "kms:GetPublicKey",
    "kms:ImportKeyMaterial",
    "kms:ListAliases",
    "kms:ListGrants",
    "kms:ListKeyPolicies",
    "kms:ListKeyRotations",
    "kms:ListKeys",
    "kms:ListResourceTags",
    "kms:ListRetirableGrants",
    "kms:PutKeyPolicy",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:ReplicateKey",
    "kms:RetireGrant",
    "kms:RevokeGrant",
    "kms:RotateKeyOnDemand",
    "kms:ScheduleKeyDeletion",
    "kms:Sign",
    "kms:SynchronizeMultiRegionKey",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateAlias",
    "kms:UpdateCustomKeyStore",
    "kms:UpdateKeyDescription",
    "kms:UpdatePrimaryRegion",
    "kms:Verify",
    "kms:VerifyMac",
];

/// The STS actions a role trust policy may name.
pub const STS_TRUST_ACTIONS: &[&str] = &[
    "sts:AssumeRole",
    "sts:AssumeRoleWithSAML",
    "sts:AssumeRoleWithWebIdentity",
    "sts:SetContext",
    "sts:SetSourceIdentity",
    "sts:TagSession",
];

/// KMS condition keys with a fixed name (lower-cased).
const KMS_KEYS: &[&str] = &[
    "kms:bypasspolicylockoutsafetycheck",
    "kms:calleraccount",
    "kms:customermasterkeyspec",
    "kms:customermasterkeyusage",
    "kms:datakeypairspec",
    "kms:encryptionalgorithm",
    "kms:encryptioncontextkeys",
    "kms:expirationmodel",
    "kms:grantconstrainttype",
    "kms:grantisforawsresource",
    "kms:grantoperations",
    "kms:granteeprincipal",
    "kms:keyagreementalgorithm",
    "kms:keyorigin",
    "kms:keyspec",
    "kms:keyusage",
    "kms:macalgorithm",
    "kms:messagetype",
    "kms:multiregion",
    "kms:multiregionkeytype",
    "kms:primaryregion",
    "kms:reencryptonsamekey",
    "kms:recipientattestation:imagesha384",
    "kms:replicaregion",
    "kms:requestalias",
    "kms:resourcealiases",
    "kms:retiringprincipal",
    "kms:rotationperiodindays",
    "kms:schedulekeydeletionpendingwindowindays",
    "kms:signingalgorithm",
    "kms:validto",
    "kms:viaservice",
    "kms:wrappingalgorithm",
    "kms:wrappingkeyspec",
];

/// KMS condition keys that end in a caller-chosen part (lower-cased prefixes).
const KMS_KEY_PREFIXES: &[&str] = &[
    "kms:encryptioncontext:",
    "kms:recipientattestation:pcr",
    "kms:recipientattestation:nitrotpmpcr",
];

/// Global condition keys with a fixed name (lower-cased).
const GLOBAL_KEYS: &[&str] = &[
    "aws:calledvia",
    "aws:calledviafirst",
    "aws:calledvialast",
    "aws:currenttime",
    "aws:ec2instancesourceprivateipv4",
    "aws:ec2instancesourcevpc",
    "aws:epochtime",
    "aws:federatedprovider",
    "aws:multifactorauthage",
    "aws:multifactorauthpresent",
    "aws:principalaccount",
    "aws:principalarn",
    "aws:principalisawsservice",
    "aws:principalorgid",
    "aws:principalorgpaths",
    "aws:principalservicename",
    "aws:principalservicenameslist",
    "aws:principaltype",
    "aws:referer",
    "aws:requestedregion",
    "aws:resourceaccount",
    "aws:resourceorgid",
    "aws:resourceorgpaths",
    "aws:securetransport",
    "aws:sourceaccount",
    "aws:sourcearn",
    "aws:sourceidentity",
    "aws:sourceip",
    "aws:sourceorgid",
    "aws:sourceorgpaths",
    "aws:sourcevpc",
    "aws:sourcevpcarn",
    "aws:sourcevpce",
    "aws:tagkeys",
    "aws:tokenissuetime",
    "aws:useragent",
    "aws:userid",
    "aws:username",
    "aws:viaawsservice",
    "aws:vpcsourceip",
];

/// Global condition keys that end in a tag key (lower-cased prefixes).
const GLOBAL_KEY_PREFIXES: &[&str] = &["aws:principaltag/", "aws:requesttag/", "aws:resourcetag/"];

/// STS condition keys a trust policy may read (lower-cased; prefixes end in `/` or `:`).
const STS_KEYS: &[&str] = &[
    "sts:externalid",
    "sts:rolesessionname",
    "sts:sourceidentity",
    "sts:transitivetagkeys",
];

/// Condition keys that are single-valued: `ForAllValues`/`ForAnyValue` on them is a mistake.
/// Lower-cased; an entry ending in `:` or `/` is a prefix.
const SINGLE_VALUED: &[&str] = &[
    "kms:encryptioncontext:",
    "aws:requesttag/",
    "aws:resourcetag/",
    "aws:principaltag/",
    "kms:calleraccount",
    "kms:viaservice",
    "kms:encryptionalgorithm",
    "kms:signingalgorithm",
    "kms:keyspec",
    "kms:keyusage",
    "kms:keyorigin",
    "kms:granteeprincipal",
    "kms:retiringprincipal",
    "kms:requestalias",
    "aws:principalaccount",
    "aws:principalarn",
    "aws:principalorgid",
    "aws:sourceaccount",
    "aws:sourcearn",
    "aws:sourceip",
    "aws:sourcevpc",
    "aws:sourcevpce",
    "aws:securetransport",
    "aws:username",
    "aws:userid",
];

/// Condition keys that name or narrow the calling principal or the service acting for it:
/// an `Allow` to `*` with one of these (positively) is not public.
pub(crate) const LIMITING_KEYS: &[&str] = &[
    "aws:principalaccount",
    "aws:principalarn",
    "aws:principalorgid",
    "aws:principalorgpaths",
    "aws:principalisawsservice",
    "aws:principalservicename",
    "aws:sourceaccount",
    "aws:sourcearn",
    "aws:sourceorgid",
    "aws:sourceorgpaths",
    "aws:sourcevpc",
    "aws:sourcevpce",
    "aws:sourceip",
    "aws:userid",
    "aws:username",
    "kms:calleraccount",
    "kms:viaservice",
];

/// Whether `action` (as written, no wildcard) is a KMS action; case-insensitive.
pub fn is_kms_action(action: &str) -> bool {
    KMS_ACTIONS.iter().any(|a| a.eq_ignore_ascii_case(action))
}

/// Whether a lower-cased KMS condition key exists.
pub(crate) fn kms_key_exists(lower: &str) -> bool {
    KMS_KEYS.contains(&lower)
        || KMS_KEY_PREFIXES
            .iter()
            .any(|p| lower.starts_with(p) && lower.len() > p.len())
}

/// Whether a lower-cased global condition key exists.
pub(crate) fn global_key_exists(lower: &str) -> bool {
    GLOBAL_KEYS.contains(&lower)
        || GLOBAL_KEY_PREFIXES
            .iter()
            .any(|p| lower.starts_with(p) && lower.len() > p.len())
}

/// Whether a lower-cased STS condition key exists.
pub(crate) fn sts_key_exists(lower: &str) -> bool {
    STS_KEYS.contains(&lower)
}

/// Whether a lower-cased condition key holds one value per request.
pub(crate) fn is_single_valued(lower: &str) -> bool {
    SINGLE_VALUED.iter().any(|k| {
        if k.ends_with(':') || k.ends_with('/') {
            lower.starts_with(k)
        } else {
            lower == *k
        }
    })
}

/// Every condition key name of a service, as written in AWS's documentation (for suggestions).
fn key_names(service: &str) -> Vec<String> {
    let fixed: &[&str] = match service {
        "kms" => KMS_KEYS,
        "aws" => GLOBAL_KEYS,
        "sts" => STS_KEYS,
        _ => &[],
    };
    fixed.iter().map(|s| s.to_string()).collect()
}

/// Levenshtein distance over ASCII-lower-cased characters.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().map(|c| c.to_ascii_lowercase()).collect();
    let b: Vec<char> = b.chars().map(|c| c.to_ascii_lowercase()).collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The closest name in `candidates` to `name`, if it is close enough to be a likely typo
/// (at most a third of the name's length, and at most 4 edits).
fn nearest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).clamp(1, 4);
    candidates
        .map(|c| (distance(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// The valid action nearest to a misspelt one (`kms:Decryptt` → `kms:Decrypt`). Looks at KMS
/// actions, and at the STS trust actions.
pub fn nearest_action(action: &str) -> Option<&'static str> {
    nearest(
        action,
        KMS_ACTIONS.iter().chain(STS_TRUST_ACTIONS.iter()).copied(),
    )
}

/// The valid condition key nearest to a misspelt one, lower-cased (`kms:callerAcount` →
/// `kms:calleraccount`).
pub fn nearest_condition_key(key: &str) -> Option<String> {
    let service = key.split(':').next().unwrap_or("").to_ascii_lowercase();
    let names = key_names(&service);
    nearest(key, names.iter().map(String::as_str)).map(str::to_string)
}

/// Whether an action name (possibly with `*`/`?` wildcards) is valid for the service it names:
/// a KMS action pattern must match at least one KMS action. `None` when the service is not one
/// kmsd knows the actions of.
pub(crate) fn action_pattern_matches_any(action: &str) -> Option<bool> {
    let (service, _) = action.split_once(':')?;
    let list: &[&str] = if service.eq_ignore_ascii_case("kms") {
        KMS_ACTIONS
    } else if service.eq_ignore_ascii_case("sts") {
        STS_TRUST_ACTIONS
    } else {
        return None;
    };
    let glob = crate::pattern::Glob::new(action, true);
    Some(list.iter().any(|a| glob.matches(a, true)))
}

/// Check an action a question about a KMS request names (explain, access, simulate): it must
/// be a KMS action. The error names the nearest valid action.
pub fn check_request_action(action: &str) -> Result<(), String> {
    if is_kms_action(action) {
        return Ok(());
    }
    let hint = nearest_action(action)
        .map(|n| format!(" Did you mean {n}?"))
        .unwrap_or_default();
    Err(format!("The action {action} does not exist in KMS.{hint}"))
}

/// Check a condition key a question about a KMS request sets: it must be a KMS or global key
/// that can be present on a KMS request. The error names the nearest valid key.
pub fn check_request_condition_key(key: &str) -> Result<(), String> {
    let lower = key.to_ascii_lowercase();
    let ok = match lower.split_once(':') {
        Some(("kms", _)) => kms_key_exists(&lower),
        Some(("aws", _)) => global_key_exists(&lower),
        _ => false,
    };
    if ok {
        return Ok(());
    }
    let hint = nearest_condition_key(key)
        .map(|n| format!(" Did you mean {n}?"))
        .unwrap_or_default();
    Err(format!(
        "The condition key {key} is never present on KMS requests.{hint}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_names() {
        assert_eq!(nearest_action("kms:Decryptt"), Some("kms:Decrypt"));
        assert_eq!(nearest_action("kms:decrypt"), Some("kms:Decrypt"));
        assert_eq!(
            nearest_action("kms:GenerateDataKy"),
            Some("kms:GenerateDataKey")
        );
        assert_eq!(nearest_action("kms:Frobnicate"), None);
        assert_eq!(
            nearest_condition_key("kms:CallerAcount").as_deref(),
            Some("kms:calleraccount")
        );
        assert_eq!(nearest_condition_key("kms:Nothing"), None);
        assert!(check_request_action("kms:Decrypt").is_ok());
        let e = check_request_action("kms:Decryptt")
            .err()
            .unwrap_or_default();
        assert!(e.contains("Did you mean kms:Decrypt?"), "{e}");
        assert!(check_request_condition_key("kms:EncryptionContext:app").is_ok());
        assert!(check_request_condition_key("aws:SourceIp").is_ok());
        assert!(check_request_condition_key("s3:prefix").is_err());
        let e = check_request_condition_key("kms:ViaServce")
            .err()
            .unwrap_or_default();
        assert!(e.contains("kms:viaservice"), "{e}");
    }

    #[test]
    fn keys_exist() {
        assert!(kms_key_exists("kms:encryptioncontext:dept"));
        assert!(!kms_key_exists("kms:encryptioncontext:"));
        assert!(!kms_key_exists("kms:calleraccounts"));
        assert!(global_key_exists("aws:principaltag/team"));
        assert!(!global_key_exists("aws:principaltags"));
        assert!(is_single_valued("kms:encryptioncontext:a"));
        assert!(!is_single_valued("kms:encryptioncontextkeys"));
        assert_eq!(action_pattern_matches_any("kms:Decrypt*"), Some(true));
        assert_eq!(action_pattern_matches_any("kms:Decryptt"), Some(false));
        assert_eq!(action_pattern_matches_any("s3:GetObject"), None);
    }
}
