//! Asking the person behind the MCP client to confirm a payment, through MCP
//! elicitation. A client that cannot ask (no elicitation capability) gets
//! [`Approval::Unavailable`]: the payment is refused, never assumed.

use rmcp::schemars::JsonSchema;
use rmcp::service::{ElicitationError, Peer, RoleServer};
use serde::{Deserialize, Serialize};

use super::agent::Approval;

/// The person's answer.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct Confirmation {
    /// true to pay, false to refuse.
    pub approve: bool,
}

rmcp::elicit_safe!(Confirmation);

/// Asks `peer`'s person whether to pay (`question` names the amount and why).
pub async fn ask(peer: &Peer<RoleServer>, question: &str) -> Approval {
    let supported = peer
        .peer_info()
        .is_some_and(|info| info.capabilities.elicitation.is_some());
    if !supported {
        return Approval::Unavailable;
    }
    let message = format!("paytab asks before paying: {question}. Approve this payment?");
    match peer.elicit::<Confirmation>(message).await {
        Ok(Some(Confirmation { approve: true })) => Approval::Approved,
        Ok(Some(Confirmation { approve: false })) => Approval::Declined("answered no".into()),
        Ok(None) => Approval::Declined("no answer".into()),
        Err(ElicitationError::CapabilityNotSupported) => Approval::Unavailable,
        Err(ElicitationError::UserDeclined) => Approval::Declined("declined".into()),
        Err(ElicitationError::UserCancelled) => Approval::Declined("cancelled".into()),
        Err(error) => Approval::Declined(format!("the confirmation failed: {error}")),
    }
}
