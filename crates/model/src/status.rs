//! Status machines as pure transition functions.
//!
//! Each machine takes the current status and an event and returns the next status, or a
//! [`TransitionError`] the API answers with 409. Nothing here reads a clock: callers pass
//! the time that matters.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An event that is not allowed in the current status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what}: not allowed while the status is {from}")]
pub struct TransitionError {
    pub from: String,
    pub what: String,
}

fn refuse<T>(from: impl std::fmt::Debug, what: impl std::fmt::Debug) -> Result<T, TransitionError> {
    Err(TransitionError {
        from: format!("{from:?}"),
        what: format!("{what:?}"),
    })
}

// ---------------------------------------------------------------- VPC peering (doc 002)

/// VPC peering status, as document 002 lists "all possible connection statuses".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PeeringStatus {
    /// "Pending (Without Complete Activation): Astro is sending the peering request."
    Pending,
    /// "Pending (With Complete Activation): the request has been created and sent."
    PendingActivation,
    /// "Active: the peering connection was successfully created and accepted."
    Active,
    /// "Failed: the peering connection request was rejected."
    Failed,
    /// "Not Found: Astro failed to create the peering request. Wait 5 minutes for Astro to retry."
    NotFound,
}

/// What happened to a peering connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeeringEvent {
    /// The provider created the peering request and sent it to the peer VPC.
    RequestSent,
    /// The provider could not create the peering request.
    RequestCreationFailed,
    /// The peer accepted (the customer completed activation).
    Accepted,
    /// The peer rejected the request.
    Rejected,
    /// A retry of a NOT_FOUND connection, `elapsed` after it became NOT_FOUND.
    Retry { elapsed: Duration },
    /// Another VPC connection was created on the same cluster: FAILED ones are retried.
    NewConnectionCreated,
}

/// How long a NOT_FOUND connection waits before it is retried ("Wait 5 minutes").
pub fn peering_not_found_retry_after() -> Duration {
    Duration::minutes(5)
}

/// The peering machine of document 002.
pub fn peering_transition(
    from: PeeringStatus,
    event: PeeringEvent,
) -> Result<PeeringStatus, TransitionError> {
    use PeeringEvent as E;
    use PeeringStatus as S;
    match (from, event) {
        (S::Pending, E::RequestSent) => Ok(S::PendingActivation),
        (S::Pending, E::RequestCreationFailed) => Ok(S::NotFound),
        (S::PendingActivation, E::Accepted) => Ok(S::Active),
        (S::PendingActivation, E::Rejected) => Ok(S::Failed),
        (S::NotFound, E::Retry { elapsed }) if elapsed >= peering_not_found_retry_after() => {
            Ok(S::Pending)
        }
        (S::Failed, E::NewConnectionCreated) => Ok(S::Pending),
        (from, event) => refuse(from, event),
    }
}

/// Whether a peering connection in `status` since `since` should be retried at `now`.
pub fn peering_retry_due(status: PeeringStatus, since: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    status == PeeringStatus::NotFound && now - since >= peering_not_found_retry_after()
}

/// Whether the UI shows "Complete Activation" (the customer has to accept and route back).
pub fn peering_needs_activation(status: PeeringStatus) -> bool {
    status == PeeringStatus::PendingActivation
}

// ------------------------------------------------- endpoint connections (docs 000/001)

/// State of a consumer endpoint's connection to the cluster's endpoint service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EndpointConnectionStatus {
    PendingAcceptance,
    Available,
    Rejected,
    Failed,
    Deleted,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointConnectionEvent {
    Accept,
    Reject,
    Fail,
    Delete,
}

/// The status a new connection starts in: accepted at once when the service auto-accepts,
/// otherwise it "requires manual acceptance of endpoint connections".
pub fn endpoint_connection_initial(auto_accept: bool) -> EndpointConnectionStatus {
    if auto_accept {
        EndpointConnectionStatus::Available
    } else {
        EndpointConnectionStatus::PendingAcceptance
    }
}

/// Accept and reject are idempotent; a rejected connection cannot be accepted (the consumer
/// creates a new endpoint); DELETED is final.
pub fn endpoint_connection_transition(
    from: EndpointConnectionStatus,
    event: EndpointConnectionEvent,
) -> Result<EndpointConnectionStatus, TransitionError> {
    use EndpointConnectionEvent as E;
    use EndpointConnectionStatus as S;
    match (from, event) {
        (S::PendingAcceptance | S::Available, E::Accept) => Ok(S::Available),
        (S::PendingAcceptance | S::Available | S::Rejected, E::Reject) => Ok(S::Rejected),
        (S::PendingAcceptance | S::Available, E::Fail) => Ok(S::Failed),
        (S::PendingAcceptance | S::Available | S::Rejected | S::Failed, E::Delete) => {
            Ok(S::Deleted)
        }
        (from, event) => refuse(from, event),
    }
}

// ------------------------------------------------------------------------- clusters

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ClusterStatus {
    Creating,
    Created,
    CreateFailed,
    Updating,
    Deleting,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterEvent {
    /// The provider reached the spec.
    Provisioned,
    /// The provider failed to reach the spec.
    ProvisionFailed,
    /// A client changed the spec.
    SpecChanged,
    /// A client asked to delete the cluster.
    DeleteRequested,
}

pub fn cluster_transition(
    from: ClusterStatus,
    event: ClusterEvent,
) -> Result<ClusterStatus, TransitionError> {
    use ClusterEvent as E;
    use ClusterStatus as S;
    match (from, event) {
        (S::Creating, E::Provisioned) | (S::Updating, E::Provisioned) => Ok(S::Created),
        (S::Creating, E::ProvisionFailed) => Ok(S::CreateFailed),
        // A failed update keeps the cluster UPDATING: the reconciler retries it.
        (S::Updating, E::ProvisionFailed) => Ok(S::Updating),
        (S::Created | S::Updating, E::SpecChanged) => Ok(S::Updating),
        (S::Creating, E::SpecChanged) => Ok(S::Creating),
        (S::CreateFailed, E::SpecChanged) => Ok(S::Creating),
        (_, E::DeleteRequested) => Ok(S::Deleting),
        (from, event) => refuse(from, event),
    }
}

// --------------------------------------------------------------------------- agents

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AgentStatus {
    Healthy,
    Unhealthy,
    Unknown,
}

/// "Validate in the Astro UI that the agents are heart beating and reporting a Healthy
/// status": UNKNOWN before the first heartbeat, HEALTHY while the last heartbeat is at most
/// two heartbeat intervals old, then UNHEALTHY.
pub fn agent_status(
    last_heartbeat_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    heartbeat_interval: Duration,
) -> AgentStatus {
    match last_heartbeat_at {
        None => AgentStatus::Unknown,
        Some(t) if now - t <= heartbeat_interval * 2 => AgentStatus::Healthy,
        Some(_) => AgentStatus::Unhealthy,
    }
}

// ------------------------------------------------------------ transit gateway attachments

/// A transit gateway attachment's status: the support tickets of documents 002 and 003
/// ("share the TGW … Astronomer support approves the resource sharing request, attaches the
/// Astro private subnets … creates routes … provides you with the Astro CIDRs"), each a state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TransitGatewayAttachmentStatus {
    /// Not attached yet (the cluster has no network yet, or the attachment is being made).
    Pending,
    /// The transit gateway is not shared with the cluster's account: `instructions` has the
    /// customer's RAM command.
    PendingShare,
    /// Attached; the transit gateway's owner has to accept it (`instructions`).
    PendingAcceptance,
    /// Attached and routed: the customer adds back routes to `clusterCidrs` (`instructions`).
    Active,
    /// Rejected by the owner, unshared before it was attached, or refused: `statusReason`.
    Failed,
    /// Detaching and removing its routes.
    Deleting,
}

// ------------------------------------------------ everything else a reconciler provisions

/// Status of routes, outbound endpoints, VPN connections, DNS resolutions and private link
/// services.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ProvisioningStatus {
    Pending,
    Available,
    Failed,
    Deleting,
}

#[cfg(test)]
mod tests {
    use super::*;
    use PeeringEvent as PE;
    use PeeringStatus as PS;

    const ALL_PEERING: [PeeringStatus; 5] = [
        PS::Pending,
        PS::PendingActivation,
        PS::Active,
        PS::Failed,
        PS::NotFound,
    ];

    fn all_peering_events() -> Vec<PeeringEvent> {
        vec![
            PE::RequestSent,
            PE::RequestCreationFailed,
            PE::Accepted,
            PE::Rejected,
            PE::Retry {
                elapsed: Duration::minutes(5),
            },
            PE::Retry {
                elapsed: Duration::minutes(4),
            },
            PE::NewConnectionCreated,
        ]
    }

    #[test]
    fn peering_statuses_serialize_upper_snake() {
        let names: Vec<String> = ALL_PEERING
            .iter()
            .map(|s| {
                serde_json::to_value(s)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(
            names,
            [
                "PENDING",
                "PENDING_ACTIVATION",
                "ACTIVE",
                "FAILED",
                "NOT_FOUND"
            ]
        );
    }

    #[test]
    fn peering_pending_without_activation_becomes_pending_activation_when_sent() {
        // "Pending (Without Complete Activation): Astro is sending the peering request to the
        // external VPC." → "Pending (With Complete Activation): The peering connection request
        // has been created and sent. Click Complete Activation to finish the setup."
        let s = peering_transition(PS::Pending, PE::RequestSent).unwrap();
        assert_eq!(s, PS::PendingActivation);
        assert!(peering_needs_activation(s));
        assert!(!peering_needs_activation(PS::Pending));
    }

    #[test]
    fn peering_accepted_becomes_active() {
        // "Active: The peering connection was successfully created and accepted."
        assert_eq!(
            peering_transition(PS::PendingActivation, PE::Accepted),
            Ok(PS::Active)
        );
        assert!(!peering_needs_activation(PS::Active));
    }

    #[test]
    fn peering_rejected_becomes_failed_and_is_retried_on_new_connection() {
        // "Failed: The peering connection request was rejected. ... If you don't delete the
        // failed connection, Astro will retry creating the peering request whenever you create
        // a new VPC connection."
        let s = peering_transition(PS::PendingActivation, PE::Rejected).unwrap();
        assert_eq!(s, PS::Failed);
        assert_eq!(
            peering_transition(s, PE::NewConnectionCreated),
            Ok(PS::Pending)
        );
        // FAILED is kept until deleted: nothing else moves it.
        for ev in all_peering_events() {
            if ev != PE::NewConnectionCreated {
                assert!(peering_transition(PS::Failed, ev).is_err(), "{ev:?}");
            }
        }
    }

    #[test]
    fn peering_not_found_is_retried_after_five_minutes_only() {
        // "Not Found: Astro failed to create the peering request. Wait 5 minutes for Astro to
        // retry."
        let s = peering_transition(PS::Pending, PE::RequestCreationFailed).unwrap();
        assert_eq!(s, PS::NotFound);
        let early = PE::Retry {
            elapsed: Duration::seconds(299),
        };
        assert!(peering_transition(s, early).is_err());
        let due = PE::Retry {
            elapsed: Duration::seconds(300),
        };
        assert_eq!(peering_transition(s, due), Ok(PS::Pending));

        let t0 = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap();
        assert!(!peering_retry_due(
            PS::NotFound,
            t0,
            t0 + Duration::seconds(299)
        ));
        assert!(peering_retry_due(
            PS::NotFound,
            t0,
            t0 + Duration::seconds(300)
        ));
        assert!(!peering_retry_due(PS::Failed, t0, t0 + Duration::hours(1)));
        assert!(!peering_retry_due(PS::Active, t0, t0 + Duration::hours(1)));
    }

    #[test]
    fn peering_every_other_transition_is_refused() {
        let allowed = [
            (PS::Pending, PE::RequestSent),
            (PS::Pending, PE::RequestCreationFailed),
            (PS::PendingActivation, PE::Accepted),
            (PS::PendingActivation, PE::Rejected),
            (
                PS::NotFound,
                PE::Retry {
                    elapsed: Duration::minutes(5),
                },
            ),
            (PS::Failed, PE::NewConnectionCreated),
        ];
        let mut refused = 0;
        for from in ALL_PEERING {
            for ev in all_peering_events() {
                let r = peering_transition(from, ev);
                if allowed.contains(&(from, ev)) {
                    assert!(r.is_ok(), "{from:?} {ev:?}");
                } else {
                    let e = r.unwrap_err();
                    assert!(e.to_string().contains("not allowed"), "{e}");
                    refused += 1;
                }
            }
        }
        assert_eq!(refused, 5 * 7 - allowed.len());
    }

    use EndpointConnectionEvent as EE;
    use EndpointConnectionStatus as ES;

    #[test]
    fn endpoint_connection_initial_status_follows_auto_accept() {
        // "The Private Link Service requires manual acceptance of endpoint connections."
        assert_eq!(endpoint_connection_initial(false), ES::PendingAcceptance);
        assert_eq!(endpoint_connection_initial(true), ES::Available);
    }

    #[test]
    fn endpoint_connection_transitions_table() {
        let all = [
            ES::PendingAcceptance,
            ES::Available,
            ES::Rejected,
            ES::Failed,
            ES::Deleted,
        ];
        let evs = [EE::Accept, EE::Reject, EE::Fail, EE::Delete];
        let expect = |from: ES, ev: EE| -> Option<ES> {
            match (from, ev) {
                (ES::PendingAcceptance, EE::Accept) => Some(ES::Available),
                (ES::Available, EE::Accept) => Some(ES::Available),
                (ES::PendingAcceptance, EE::Reject) => Some(ES::Rejected),
                (ES::Available, EE::Reject) => Some(ES::Rejected),
                (ES::Rejected, EE::Reject) => Some(ES::Rejected),
                (ES::PendingAcceptance, EE::Fail) => Some(ES::Failed),
                (ES::Available, EE::Fail) => Some(ES::Failed),
                (ES::Deleted, _) => None,
                (_, EE::Delete) => Some(ES::Deleted),
                _ => None,
            }
        };
        for from in all {
            for ev in evs {
                assert_eq!(
                    endpoint_connection_transition(from, ev).ok(),
                    expect(from, ev),
                    "{from:?} {ev:?}"
                );
            }
        }
        // A rejected connection is never accepted; a deleted one never comes back.
        assert!(endpoint_connection_transition(ES::Rejected, EE::Accept).is_err());
        assert!(endpoint_connection_transition(ES::Deleted, EE::Accept).is_err());
    }

    use ClusterEvent as CE;
    use ClusterStatus as CS;

    #[test]
    fn cluster_transitions_table() {
        let all = [
            CS::Creating,
            CS::Created,
            CS::CreateFailed,
            CS::Updating,
            CS::Deleting,
        ];
        let evs = [
            CE::Provisioned,
            CE::ProvisionFailed,
            CE::SpecChanged,
            CE::DeleteRequested,
        ];
        let expect = |from: CS, ev: CE| -> Option<CS> {
            Some(match (from, ev) {
                (_, CE::DeleteRequested) => CS::Deleting,
                (CS::Creating, CE::Provisioned) => CS::Created,
                (CS::Creating, CE::ProvisionFailed) => CS::CreateFailed,
                (CS::Creating, CE::SpecChanged) => CS::Creating,
                (CS::Created, CE::SpecChanged) => CS::Updating,
                (CS::Updating, CE::Provisioned) => CS::Created,
                (CS::Updating, CE::ProvisionFailed) => CS::Updating,
                (CS::Updating, CE::SpecChanged) => CS::Updating,
                (CS::CreateFailed, CE::SpecChanged) => CS::Creating,
                _ => return None,
            })
        };
        for from in all {
            for ev in evs {
                assert_eq!(
                    cluster_transition(from, ev).ok(),
                    expect(from, ev),
                    "{from:?} {ev:?}"
                );
            }
        }
        assert!(cluster_transition(CS::Deleting, CE::Provisioned).is_err());
        assert!(cluster_transition(CS::Created, CE::Provisioned).is_err());
        assert!(cluster_transition(CS::CreateFailed, CE::Provisioned).is_err());
    }

    #[test]
    fn agent_health_follows_heartbeats() {
        // "Validate in the Astro UI that the agents are heart beating and reporting a Healthy
        // status."
        let now = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap();
        let every = Duration::seconds(30);
        assert_eq!(agent_status(None, now, every), AgentStatus::Unknown);
        assert_eq!(
            agent_status(Some(now - Duration::seconds(10)), now, every),
            AgentStatus::Healthy
        );
        assert_eq!(
            agent_status(Some(now - Duration::seconds(60)), now, every),
            AgentStatus::Healthy
        );
        assert_eq!(
            agent_status(Some(now - Duration::seconds(61)), now, every),
            AgentStatus::Unhealthy
        );
    }
}
