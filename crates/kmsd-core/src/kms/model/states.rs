//! The key-state table: which key states each operation's rule (`op::StateRule`) accepts,
//! and the error AWS answers for the others.

use crate::error::{ApiError, KmsError};
use crate::kms::model::key::KeyState;
use crate::kms::model::op::{KmsOp, StateRule};

fn invalid(arn: &str, what: &str) -> ApiError {
    ApiError::new(
        KmsError::KMSInvalidStateException,
        format!("{arn} is {what}."),
    )
}

fn disabled(arn: &str) -> ApiError {
    ApiError::new(KmsError::DisabledException, format!("{arn} is disabled."))
}

fn pending_deletion(arn: &str) -> ApiError {
    invalid(arn, "pending deletion")
}

fn pending_replica_deletion(arn: &str) -> ApiError {
    invalid(arn, "pending replica deletion")
}

fn pending_import(arn: &str) -> ApiError {
    invalid(arn, "pending import")
}

/// The key-state table of §3: may operation `op` run on a key in `state`? The error is
/// AWS's code and message. The rule comes from the operation table ([`KmsOp::states`]).
pub fn check_state(op: KmsOp, state: KeyState, arn: &str) -> Result<(), ApiError> {
    check_state_rule(op.states(), state, arn)
}

/// One rule of the key-state table.
pub fn check_state_rule(rule: StateRule, state: KeyState, arn: &str) -> Result<(), ApiError> {
    use KeyState::*;
    match rule {
        StateRule::Use => match state {
            Enabled => Ok(()),
            Disabled => Err(disabled(arn)),
            PendingDeletion => Err(pending_deletion(arn)),
            PendingReplicaDeletion => Err(pending_replica_deletion(arn)),
            PendingImport => Err(pending_import(arn)),
            Unavailable => Err(invalid(arn, "unavailable")),
        },
        StateRule::CreateGrant => match state {
            Enabled | Unavailable => Ok(()),
            Disabled => Err(disabled(arn)),
            PendingDeletion => Err(pending_deletion(arn)),
            PendingReplicaDeletion => Err(pending_replica_deletion(arn)),
            PendingImport => Err(pending_import(arn)),
        },
        StateRule::Import => match state {
            PendingDeletion => Err(pending_deletion(arn)),
            PendingReplicaDeletion => Err(pending_replica_deletion(arn)),
            Unavailable => Err(invalid(arn, "unavailable")),
            _ => Ok(()),
        },
        StateRule::CancelDeletion => match state {
            PendingDeletion | PendingReplicaDeletion => Ok(()),
            _ => Err(invalid(arn, "not pending deletion")),
        },
        StateRule::Metadata => match state {
            PendingDeletion => Err(pending_deletion(arn)),
            PendingReplicaDeletion => Err(pending_replica_deletion(arn)),
            _ => Ok(()),
        },
        StateRule::EnableDisable => match state {
            PendingDeletion => Err(pending_deletion(arn)),
            PendingReplicaDeletion => Err(pending_replica_deletion(arn)),
            PendingImport => Err(pending_import(arn)),
            _ => Ok(()),
        },
        StateRule::RotationChange => match state {
            Enabled => Ok(()),
            Disabled => Err(disabled(arn)),
            PendingDeletion => Err(pending_deletion(arn)),
            PendingReplicaDeletion => Err(pending_replica_deletion(arn)),
            PendingImport => Err(ApiError::new(
                KmsError::UnsupportedOperationException,
                format!("{arn} origin is EXTERNAL which is not valid for this operation."),
            )),
            Unavailable => Err(ApiError::new(
                KmsError::UnsupportedOperationException,
                format!("{arn} is unavailable."),
            )),
        },
        StateRule::RotationRead => match state {
            PendingImport => Err(ApiError::new(
                KmsError::UnsupportedOperationException,
                format!("{arn} origin is EXTERNAL which is not valid for this operation."),
            )),
            Unavailable => Err(ApiError::new(
                KmsError::UnsupportedOperationException,
                format!("{arn} is unavailable."),
            )),
            _ => Ok(()),
        },
        StateRule::RotateOnDemand => match state {
            Enabled => Ok(()),
            Disabled => Err(disabled(arn)),
            PendingDeletion => Err(pending_deletion(arn)),
            PendingReplicaDeletion => Err(pending_replica_deletion(arn)),
            PendingImport => Err(pending_import(arn)),
            Unavailable => Err(ApiError::bare(KmsError::UnsupportedOperationException)),
        },
        // DescribeKey, GetKeyPolicy, PutKeyPolicy, ListGrants, ListKeyPolicies,
        // ListResourceTags, ListAliases, RetireGrant, RevokeGrant, DeleteAlias,
        // UpdateAlias (old target), DeleteImportedKeyMaterial: every state.
        StateRule::Any | StateRule::NoKey => Ok(()),
    }
}
