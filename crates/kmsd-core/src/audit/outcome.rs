//! How the facts of a call ([`AuditFacts`], defined with [`Outcome`](crate::outcome::Outcome)
//! in `crate::outcome`) enter its audit event.
//!
//! KMS, IAM, STS and kmsd's own operations all answer with an `Outcome`; the wire layer
//! fills the transport's part of the [`AuditEvent`] (who, where, when, the error's wire
//! code) and hands the facts to [`AuditFacts::record_in`], the one place they enter an
//! event. Facts never hold plaintext, key material or a credential secret.

use kmsd_policy::Node;

use super::{AuditEvent, AuditResource};
use crate::outcome::AuditFacts;

impl AuditFacts {
    /// Write the facts into `event`: decision and its reasons, flowchart end node, request
    /// and response elements, the event id the call fixed, the key as resource (its
    /// account as recipient).
    pub fn record_in(self, event: &mut AuditEvent) {
        event.set_decision_owned(self.decision, self.deciding);
        event.end_node = self.end_node.map(Node::id);
        event.request_parameters = self.request_parameters;
        event.response_elements = self.response_elements;
        if let Some(id) = self.event_id {
            event.event_id = id;
        }
        if let Some(arn) = &self.key_arn {
            let resource = AuditResource::kms_key(arn);
            if !resource.account_id.is_empty() {
                event.recipient_account_id = Some(resource.account_id.clone());
            }
            event.resources.push(resource);
        }
    }
}
