//! The KMS operation table: one row per operation of the KMS model (botocore
//! `kms/2014-11-01`), saying everything the rest of the server needs to know about an
//! operation without spelling its name again: the wire name, the IAM action(s) it is
//! authorized with, whether CloudTrail records it as read-only, whether its response is
//! cryptographic (never audited), whether it may commit to the store, whether it is slow
//! (key generation), the request quota it counts against, the key states and key usages it
//! accepts, and how its `KeyId` may name the key.
//!
//! Readers: [`crate::kms::Kms::call`] (dispatch, quotas, audit), the key-state table
//! ([`crate::kms::model::states::check_state`]), the key-usage check, the wire layer
//! (known operations) and the server's worker (inline or blocking pool). Adding an operation = one variant,
//! one row here, one handler arm in `Kms::dispatch` (the `match` there is exhaustive).

use crate::kms::model::key::KeyUsage;

/// Which key states an operation accepts: a rule of the key-state table (kms-api.md §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateRule {
    /// Cryptographic use: `Enabled` only.
    Use,
    /// CreateGrant: `Enabled` or `Unavailable`.
    CreateGrant,
    /// CancelKeyDeletion: `PendingDeletion` only.
    CancelDeletion,
    /// Metadata changes (aliases, tags, description, scheduling deletion): any state but
    /// `PendingDeletion`.
    Metadata,
    /// EnableKey / DisableKey: neither `PendingDeletion` nor `PendingImport`.
    EnableDisable,
    /// Enable/DisableKeyRotation: `Enabled` only, with AWS's wording for the others.
    RotationChange,
    /// GetKeyRotationStatus / ListKeyRotations: any state but `PendingImport`, `Unavailable`.
    RotationRead,
    /// RotateKeyOnDemand.
    RotateOnDemand,
    /// GetParametersForImport / ImportKeyMaterial: any state but `PendingDeletion` (and
    /// `Unavailable`).
    Import,
    /// Every state (reads of metadata, policies, grants; alias deletion).
    Any,
    /// The operation names no key.
    NoKey,
}

/// Which key usages an operation accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usages {
    /// Any key usage (or no key at all).
    Any,
    /// Only these usages; any other is `InvalidKeyUsageException`.
    Only(&'static [KeyUsage]),
}

/// How an operation's key identifier may name the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyIdForms {
    /// Key id, key ARN, alias name or alias ARN; another account's key by ARN.
    Any,
    /// Key id or key ARN; another account's key by ARN.
    KeyCross,
    /// Key id or key ARN of the caller's own account.
    KeyLocal,
    /// The operation names no key.
    NoKey,
}

/// The request quota an operation counts against (AWS KMS Developer Guide,
/// "Request quotas for each AWS KMS API operation").
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Quota {
    /// Not throttled.
    None,
    /// The shared quota of cryptographic operations on symmetric keys (operations that name
    /// no key: `GenerateRandom`).
    SymmetricCrypto,
    /// The shared quota of cryptographic operations of the key's type (symmetric, RSA, ECC,
    /// ML-DSA): known once the key is, so admission waits for it
    /// ([`crate::kms::model::quota`]).
    ByKeyType,
    /// The operation's own quota, requests per second.
    Own(f64),
}

/// Everything the server knows about one KMS operation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OpSpec {
    pub op: KmsOp,
    /// The wire name (`X-Amz-Target: TrentService.<name>`) and CloudTrail `eventName`.
    pub name: &'static str,
    /// The IAM action(s) the operation is authorized with.
    pub actions: &'static [&'static str],
    /// CloudTrail `readOnly`.
    pub read_only: bool,
    /// The response carries plaintext, key material or other cryptographic output: it is
    /// never copied into the audit record.
    pub cryptographic: bool,
    /// May commit to the store (runs on the blocking pool, never inline on a worker).
    pub commits: bool,
    /// May take long without committing (key generation): blocking pool too.
    pub slow: bool,
    pub quota: Quota,
    pub states: StateRule,
    pub usages: Usages,
    pub key_id: KeyIdForms,
}

impl OpSpec {
    /// Runs inline on the worker thread (neither commits nor takes long).
    pub fn runs_inline(&self) -> bool {
        !self.commits && !self.slow
    }

    /// The (first) IAM action.
    pub fn action(&self) -> &'static str {
        self.actions.first().copied().unwrap_or("")
    }
}

macro_rules! kms_ops {
    ($($op:ident),+ $(,)?) => {
        /// A KMS operation of the model.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum KmsOp { $($op),+ }

        impl KmsOp {
            /// Every operation, in the table's order.
            pub const ALL: &'static [KmsOp] = &[$(KmsOp::$op),+];

            /// The wire name.
            pub const fn name(self) -> &'static str {
                match self { $(KmsOp::$op => stringify!($op)),+ }
            }
        }
    };
}

kms_ops!(
    CancelKeyDeletion,
    ConnectCustomKeyStore,
    CreateAlias,
    CreateCustomKeyStore,
    CreateGrant,
    CreateKey,
    Decapsulate,
    Decrypt,
    DeleteAlias,
    DeleteCustomKeyStore,
    DeleteImportedKeyMaterial,
    DeriveSharedSecret,
    DescribeCustomKeyStores,
    DescribeKey,
    DisableKey,
    DisableKeyRotation,
    DisconnectCustomKeyStore,
    EnableKey,
    EnableKeyRotation,
    Encapsulate,
    Encrypt,
    GenerateDataKey,
    GenerateDataKeyPair,
    GenerateDataKeyPairWithoutPlaintext,
    GenerateDataKeyWithoutPlaintext,
    GenerateMac,
    GenerateRandom,
    GetKeyLastUsage,
    GetKeyPolicy,
    GetKeyRotationStatus,
    GetParametersForImport,
    GetPublicKey,
    ImportKeyMaterial,
    ListAliases,
    ListGrants,
    ListKeyPolicies,
    ListKeyRotations,
    ListKeys,
    ListResourceTags,
    ListRetirableGrants,
    PutKeyPolicy,
    ReEncrypt,
    ReplicateKey,
    RetireGrant,
    RevokeGrant,
    RotateKeyOnDemand,
    ScheduleKeyDeletion,
    Sign,
    TagResource,
    UntagResource,
    UpdateAlias,
    UpdateCustomKeyStore,
    UpdateKeyDescription,
    UpdatePrimaryRegion,
    Verify,
    VerifyMac,
);

const ENCRYPT_DECRYPT: Usages = Usages::Only(&[KeyUsage::EncryptDecrypt]);
const MAC: Usages = Usages::Only(&[KeyUsage::GenerateVerifyMac]);
/// Usages of asymmetric keys (GetPublicKey; the handler refuses symmetric keys).
const ASYMMETRIC: Usages = Usages::Only(&[
    KeyUsage::EncryptDecrypt,
    KeyUsage::SignVerify,
    KeyUsage::KeyAgreement,
    KeyUsage::EncapsulateDecapsulate,
]);
const SIGN_VERIFY: Usages = Usages::Only(&[KeyUsage::SignVerify]);
const KEY_AGREEMENT: Usages = Usages::Only(&[KeyUsage::KeyAgreement]);
const KEM: Usages = Usages::Only(&[KeyUsage::EncapsulateDecapsulate]);

/// A row with the defaults of a key-management operation that commits.
const fn row(op: KmsOp, actions: &'static [&'static str]) -> OpSpec {
    OpSpec {
        op,
        name: op.name(),
        actions,
        read_only: false,
        cryptographic: false,
        commits: true,
        slow: false,
        quota: Quota::None,
        states: StateRule::Any,
        usages: Usages::Any,
        key_id: KeyIdForms::KeyLocal,
    }
}

/// A cryptographic operation on a key named in any form (`Enabled` keys only).
const fn crypto(op: KmsOp, actions: &'static [&'static str], usages: Usages) -> OpSpec {
    OpSpec {
        cryptographic: true,
        commits: false,
        quota: Quota::ByKeyType,
        states: StateRule::Use,
        usages,
        key_id: KeyIdForms::Any,
        ..row(op, actions)
    }
}

/// A read of key metadata (CloudTrail `readOnly`, no commit).
const fn read(op: KmsOp, actions: &'static [&'static str], rate: f64) -> OpSpec {
    OpSpec {
        read_only: true,
        commits: false,
        quota: if rate > 0.0 {
            Quota::Own(rate)
        } else {
            Quota::None
        },
        ..row(op, actions)
    }
}

/// A custom key store operation (names no key).
const fn key_store(op: KmsOp, actions: &'static [&'static str]) -> OpSpec {
    OpSpec {
        states: StateRule::NoKey,
        key_id: KeyIdForms::NoKey,
        ..row(op, actions)
    }
}

/// The table, in [`KmsOp::ALL`] order (a test checks it).
pub static KMS_OPS: [OpSpec; 56] = {
    use KmsOp::*;
    [
        OpSpec {
            quota: Quota::Own(5.0),
            states: StateRule::CancelDeletion,
            ..row(CancelKeyDeletion, &["kms:CancelKeyDeletion"])
        },
        key_store(ConnectCustomKeyStore, &["kms:ConnectCustomKeyStore"]),
        OpSpec {
            quota: Quota::Own(5.0),
            states: StateRule::Metadata,
            ..row(CreateAlias, &["kms:CreateAlias"])
        },
        key_store(CreateCustomKeyStore, &["kms:CreateCustomKeyStore"]),
        OpSpec {
            quota: Quota::Own(50.0),
            states: StateRule::CreateGrant,
            key_id: KeyIdForms::KeyCross,
            ..row(CreateGrant, &["kms:CreateGrant"])
        },
        OpSpec {
            quota: Quota::Own(5.0),
            states: StateRule::NoKey,
            key_id: KeyIdForms::NoKey,
            ..row(CreateKey, &["kms:CreateKey"])
        },
        OpSpec {
            quota: Quota::None,
            ..crypto(Decapsulate, &["kms:Decapsulate"], KEM)
        },
        OpSpec {
            read_only: true,
            ..crypto(Decrypt, &["kms:Decrypt"], ENCRYPT_DECRYPT)
        },
        OpSpec {
            quota: Quota::Own(5.0),
            key_id: KeyIdForms::NoKey,
            ..row(DeleteAlias, &["kms:DeleteAlias"])
        },
        key_store(DeleteCustomKeyStore, &["kms:DeleteCustomKeyStore"]),
        OpSpec {
            quota: Quota::Own(5.0),
            ..row(
                DeleteImportedKeyMaterial,
                &["kms:DeleteImportedKeyMaterial"],
            )
        },
        crypto(
            DeriveSharedSecret,
            &["kms:DeriveSharedSecret"],
            KEY_AGREEMENT,
        ),
        OpSpec {
            states: StateRule::NoKey,
            key_id: KeyIdForms::NoKey,
            ..read(
                DescribeCustomKeyStores,
                &["kms:DescribeCustomKeyStores"],
                5.0,
            )
        },
        OpSpec {
            key_id: KeyIdForms::Any,
            ..read(DescribeKey, &["kms:DescribeKey"], 1_000.0)
        },
        OpSpec {
            quota: Quota::Own(5.0),
            states: StateRule::EnableDisable,
            ..row(DisableKey, &["kms:DisableKey"])
        },
        OpSpec {
            quota: Quota::Own(5.0),
            states: StateRule::RotationChange,
            ..row(DisableKeyRotation, &["kms:DisableKeyRotation"])
        },
        key_store(DisconnectCustomKeyStore, &["kms:DisconnectCustomKeyStore"]),
        OpSpec {
            quota: Quota::Own(5.0),
            states: StateRule::EnableDisable,
            ..row(EnableKey, &["kms:EnableKey"])
        },
        OpSpec {
            quota: Quota::Own(5.0),
            states: StateRule::RotationChange,
            ..row(EnableKeyRotation, &["kms:EnableKeyRotation"])
        },
        OpSpec {
            quota: Quota::None,
            ..crypto(Encapsulate, &["kms:Encapsulate"], KEM)
        },
        crypto(Encrypt, &["kms:Encrypt"], ENCRYPT_DECRYPT),
        crypto(GenerateDataKey, &["kms:GenerateDataKey"], ENCRYPT_DECRYPT),
        OpSpec {
            quota: Quota::None,
            slow: true,
            ..crypto(
                GenerateDataKeyPair,
                &["kms:GenerateDataKeyPair"],
                ENCRYPT_DECRYPT,
            )
        },
        OpSpec {
            quota: Quota::None,
            slow: true,
            ..crypto(
                GenerateDataKeyPairWithoutPlaintext,
                &["kms:GenerateDataKeyPairWithoutPlaintext"],
                ENCRYPT_DECRYPT,
            )
        },
        crypto(
            GenerateDataKeyWithoutPlaintext,
            &["kms:GenerateDataKeyWithoutPlaintext"],
            ENCRYPT_DECRYPT,
        ),
        crypto(GenerateMac, &["kms:GenerateMac"], MAC),
        OpSpec {
            states: StateRule::NoKey,
            usages: Usages::Any,
            key_id: KeyIdForms::NoKey,
            quota: Quota::SymmetricCrypto,
            ..crypto(GenerateRandom, &["kms:GenerateRandom"], Usages::Any)
        },
        read(GetKeyLastUsage, &["kms:GetKeyLastUsage"], 0.0),
        read(GetKeyPolicy, &["kms:GetKeyPolicy"], 1_000.0),
        OpSpec {
            states: StateRule::RotationRead,
            key_id: KeyIdForms::KeyCross,
            ..read(GetKeyRotationStatus, &["kms:GetKeyRotationStatus"], 1_000.0)
        },
        OpSpec {
            commits: true,
            slow: true,
            states: StateRule::Import,
            ..read(
                GetParametersForImport,
                &["kms:GetParametersForImport"],
                0.25,
            )
        },
        OpSpec {
            read_only: true,
            cryptographic: false,
            quota: Quota::None,
            ..crypto(GetPublicKey, &["kms:GetPublicKey"], ASYMMETRIC)
        },
        OpSpec {
            quota: Quota::Own(5.0),
            states: StateRule::Import,
            ..row(ImportKeyMaterial, &["kms:ImportKeyMaterial"])
        },
        read(ListAliases, &["kms:ListAliases"], 100.0),
        OpSpec {
            key_id: KeyIdForms::KeyCross,
            ..read(ListGrants, &["kms:ListGrants"], 100.0)
        },
        read(ListKeyPolicies, &["kms:ListKeyPolicies"], 100.0),
        OpSpec {
            states: StateRule::RotationRead,
            ..read(ListKeyRotations, &["kms:ListKeyRotations"], 0.0)
        },
        OpSpec {
            states: StateRule::NoKey,
            key_id: KeyIdForms::NoKey,
            ..read(ListKeys, &["kms:ListKeys"], 100.0)
        },
        read(ListResourceTags, &["kms:ListResourceTags"], 100.0),
        OpSpec {
            states: StateRule::NoKey,
            key_id: KeyIdForms::NoKey,
            ..read(ListRetirableGrants, &["kms:ListRetirableGrants"], 5.0)
        },
        OpSpec {
            quota: Quota::Own(5.0),
            ..row(PutKeyPolicy, &["kms:PutKeyPolicy"])
        },
        crypto(
            ReEncrypt,
            &["kms:ReEncryptFrom", "kms:ReEncryptTo"],
            ENCRYPT_DECRYPT,
        ),
        OpSpec {
            // Replica material is copied (an RSA-4096 key pair is large); not pending
            // deletion, replica deletion or unavailable.
            slow: true,
            states: StateRule::Import,
            ..row(ReplicateKey, &["kms:ReplicateKey"])
        },
        OpSpec {
            quota: Quota::Own(15.0),
            key_id: KeyIdForms::KeyCross,
            ..row(RetireGrant, &["kms:RetireGrant"])
        },
        OpSpec {
            quota: Quota::Own(15.0),
            key_id: KeyIdForms::KeyCross,
            ..row(RevokeGrant, &["kms:RevokeGrant"])
        },
        OpSpec {
            states: StateRule::RotateOnDemand,
            ..row(RotateKeyOnDemand, &["kms:RotateKeyOnDemand"])
        },
        OpSpec {
            quota: Quota::Own(5.0),
            states: StateRule::Metadata,
            ..row(ScheduleKeyDeletion, &["kms:ScheduleKeyDeletion"])
        },
        crypto(Sign, &["kms:Sign"], SIGN_VERIFY),
        OpSpec {
            quota: Quota::Own(5.0),
            states: StateRule::Metadata,
            ..row(TagResource, &["kms:TagResource"])
        },
        OpSpec {
            quota: Quota::Own(5.0),
            states: StateRule::Metadata,
            ..row(UntagResource, &["kms:UntagResource"])
        },
        OpSpec {
            quota: Quota::Own(5.0),
            // The rule of the new target (`TargetKeyId`), as for CreateAlias; the old key is
            // not checked.
            states: StateRule::Metadata,
            ..row(UpdateAlias, &["kms:UpdateAlias"])
        },
        key_store(UpdateCustomKeyStore, &["kms:UpdateCustomKeyStore"]),
        OpSpec {
            quota: Quota::Own(5.0),
            states: StateRule::Metadata,
            ..row(UpdateKeyDescription, &["kms:UpdateKeyDescription"])
        },
        OpSpec {
            states: StateRule::Import,
            ..row(UpdatePrimaryRegion, &["kms:UpdatePrimaryRegion"])
        },
        OpSpec {
            read_only: true,
            ..crypto(Verify, &["kms:Verify"], SIGN_VERIFY)
        },
        OpSpec {
            read_only: true,
            ..crypto(VerifyMac, &["kms:VerifyMac"], MAC)
        },
    ]
};

impl KmsOp {
    /// The operation's row.
    pub fn spec(self) -> &'static OpSpec {
        // The table is in `ALL` order (checked by a test), so the discriminant indexes it.
        &KMS_OPS[self as usize]
    }

    /// The operation of a wire name; `None` for anything not in the model.
    pub fn from_name(name: &str) -> Option<KmsOp> {
        // Sorted by name (checked by a test): binary search, no allocation.
        KmsOp::ALL
            .binary_search_by(|op| op.name().cmp(name))
            .ok()
            .and_then(|i| KmsOp::ALL.get(i).copied())
    }

    /// Shorthand for the row's state rule.
    pub fn states(self) -> StateRule {
        self.spec().states
    }
}

impl std::fmt::Display for KmsOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_rows_are_in_enum_order_and_names_sorted() {
        assert_eq!(KMS_OPS.len(), KmsOp::ALL.len());
        for (i, op) in KmsOp::ALL.iter().enumerate() {
            assert_eq!(KMS_OPS[i].op, *op, "row {i}");
            assert_eq!(KMS_OPS[i].name, op.name());
            assert_eq!(KmsOp::from_name(op.name()), Some(*op));
        }
        let names: Vec<&str> = KmsOp::ALL.iter().map(|o| o.name()).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted);
        assert_eq!(KmsOp::from_name("Nope"), None);
        assert_eq!(KmsOp::from_name("encrypt"), None);
    }

    #[test]
    fn every_row_is_consistent() {
        for spec in &KMS_OPS {
            assert!(!spec.actions.is_empty(), "{}", spec.name);
            for a in spec.actions {
                assert!(a.starts_with("kms:"), "{a}");
            }
            if spec.key_id == KeyIdForms::NoKey {
                assert!(
                    matches!(spec.states, StateRule::NoKey | StateRule::Any),
                    "{}",
                    spec.name
                );
            }
            if spec.cryptographic {
                assert!(!spec.commits, "{} commits", spec.name);
            }
        }
        assert_eq!(
            KmsOp::ReEncrypt.spec().actions,
            &["kms:ReEncryptFrom", "kms:ReEncryptTo"]
        );
        assert!(KmsOp::Encrypt.spec().runs_inline());
        assert!(!KmsOp::CreateKey.spec().runs_inline());
        assert!(!KmsOp::GenerateDataKeyPair.spec().runs_inline());
    }

    /// The `key_id` column decides how a request may name its key (`Kms::resolve` reads it):
    /// alias names and ARNs only where AWS documents them for `KeyId`, another account's key
    /// only where AWS documents "Cross-account use: Yes".
    #[test]
    fn key_id_forms_are_aws_documented_ones() {
        use KmsOp::*;
        let with = |f: KeyIdForms| -> Vec<KmsOp> {
            KmsOp::ALL
                .iter()
                .copied()
                .filter(|op| op.spec().key_id == f)
                .collect()
        };
        assert_eq!(
            with(KeyIdForms::Any),
            [
                Decapsulate,
                Decrypt,
                DeriveSharedSecret,
                DescribeKey,
                Encapsulate,
                Encrypt,
                GenerateDataKey,
                GenerateDataKeyPair,
                GenerateDataKeyPairWithoutPlaintext,
                GenerateDataKeyWithoutPlaintext,
                GenerateMac,
                GetPublicKey,
                ReEncrypt,
                Sign,
                Verify,
                VerifyMac,
            ]
        );
        assert_eq!(
            with(KeyIdForms::KeyCross),
            [
                CreateGrant,
                GetKeyRotationStatus,
                ListGrants,
                RetireGrant,
                RevokeGrant
            ]
        );
        assert_eq!(
            with(KeyIdForms::NoKey),
            [
                ConnectCustomKeyStore,
                CreateCustomKeyStore,
                CreateKey,
                DeleteAlias,
                DeleteCustomKeyStore,
                DescribeCustomKeyStores,
                DisconnectCustomKeyStore,
                GenerateRandom,
                ListKeys,
                ListRetirableGrants,
                UpdateCustomKeyStore,
            ]
        );
        // Everything else names a key of the caller's own account by key id or key ARN.
        assert_eq!(with(KeyIdForms::KeyLocal).len(), 56 - 16 - 5 - 11);
        assert!(with(KeyIdForms::KeyLocal).contains(&CreateAlias));
        assert!(with(KeyIdForms::KeyLocal).contains(&ListKeyRotations));
    }
}
