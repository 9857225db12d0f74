//! Why the drainer is not synced, for `/status`'s `HeldBy` (ours): the destination, while
//! binlogs already merged wait to be applied (by how much), else which pump holds the merge and
//! what the merge waits for from it. The merge emits a binlog only once every pump that is not
//! offline has shown one at or above it (see [`crate::merge`]), so the pump read least far (the
//! lowest `PumpPos`) is the one it waits on. What keeps that pump back is told from what the
//! drainer already has: the registry's state (paused), the pull loop's last failure (not
//! reachable since when), or else a stream that has not passed the merge's TS yet; for that
//! last case the pump's `/status` is asked whether a prewrite without its commit holds it
//! ([`pending_prewrite`]).

use std::collections::BTreeMap;
use std::time::SystemTime;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use binlog_node::registry::{NodeState, NodeStatus};
use binlog_node::tls::{http_agent, url_with_scheme, Tls};
use binlog_node::tso::physical_ms;

/// Time allowed for a pump's `/status` answer.
const PUMP_STATUS_TIMEOUT: Duration = Duration::from_secs(2);

/// A pump's pull stream that keeps failing: the last reason, and since when it fails.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PullFailure {
    /// The last failure, as the pull loop logged it.
    pub reason: String,
    /// The first failure of this run of failures.
    pub since: SystemTime,
}

/// What holds the merge back on a pump.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Waiting {
    /// The registry says the pump is paused: its stream is not read until it is online again.
    Paused,
    /// The pump cannot be pulled: the pull loop's stream fails.
    Unreachable,
    /// The pump is pulled but its stream has not passed the merge's TS.
    Stream,
    /// The pump holds a prewrite whose commit has not arrived: its stream cannot pass that
    /// transaction until the commit or rollback comes, or the pump resolves it.
    Prewrite,
    /// The merge is ahead of the checkpoint: binlogs merged wait for the destination.
    Destination,
}

/// `/status`'s `HeldBy`: the pump the merge waits on, and why; or the destination.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldBy {
    /// The pump's node ID; empty for `destination`.
    #[serde(rename = "Pump", default, skip_serializing_if = "String::is_empty")]
    pub pump: String,
    /// What the merge waits for from it.
    #[serde(rename = "Waiting")]
    pub waiting: Waiting,
    /// The merge's TS: the pump's stream has to pass it for the drainer to go on.
    #[serde(rename = "TS")]
    pub ts: u64,
    /// The last commit TS read from the pump (0: none yet).
    #[serde(rename = "PumpTS")]
    pub pump_ts: u64,
    /// For `unreachable`: since when (RFC 3339, UTC).
    #[serde(rename = "Since", default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// For `unreachable`: the pull loop's last error.
    #[serde(rename = "Error", default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// For `prewrite`: the start TS of the prewrite without its commit.
    #[serde(rename = "StartTS", default, skip_serializing_if = "Option::is_none")]
    pub start_ts: Option<u64>,
    /// For `destination`: milliseconds of commit time between the checkpoint and the merge's
    /// TS.
    #[serde(rename = "BehindMs", default, skip_serializing_if = "Option::is_none")]
    pub behind_ms: Option<u64>,
    /// The same, as one sentence for a person.
    #[serde(rename = "Message")]
    pub message: String,
}

/// What holds a drainer whose merge is at `merged_ts` and checkpoint at `checkpoint_ts`: the
/// destination while the merge is ahead of the checkpoint, else the pump among `pumps` (the
/// registry's; offline ones do not hold it) read least far, with `positions` (`PumpPos`) and
/// the pull loops' `failures`. `None` when nothing holds it (no pump that is not offline).
pub fn held_by(
    merged_ts: u64,
    checkpoint_ts: u64,
    pumps: &[NodeStatus],
    positions: &BTreeMap<String, u64>,
    failures: &BTreeMap<String, PullFailure>,
) -> Option<HeldBy> {
    if merged_ts > checkpoint_ts {
        let behind_ms = physical_ms(merged_ts).saturating_sub(physical_ms(checkpoint_ts));
        return Some(HeldBy {
            pump: String::new(),
            waiting: Waiting::Destination,
            ts: merged_ts,
            pump_ts: 0,
            since: None,
            error: None,
            start_ts: None,
            behind_ms: Some(behind_ms),
            message: format!(
                "the destination is behind: binlogs are merged up to TS {merged_ts} and applied \
                 up to the checkpoint {checkpoint_ts}, {:.3} s of commits earlier",
                behind_ms as f64 / 1000.0
            ),
        });
    }
    let position = |pump: &NodeStatus| positions.get(&pump.node_id).copied().unwrap_or(0);
    let holder = pumps
        .iter()
        .filter(|pump| pump.state != NodeState::Offline)
        .min_by(|&a, &b| (position(a), &a.node_id).cmp(&(position(b), &b.node_id)))?;
    let pump = holder.node_id.clone();
    let pump_ts = position(holder);
    let failure = failures.get(&pump);
    let (waiting, message) = if holder.state == NodeState::Paused {
        (
            Waiting::Paused,
            format!("pump {pump} is paused; the merge waits for it past TS {merged_ts}"),
        )
    } else if let Some(failure) = failure {
        (
            Waiting::Unreachable,
            format!(
                "pump {pump} is not reachable since {}: {}; the merge waits for it past TS \
                 {merged_ts}",
                rfc3339(failure.since),
                failure.reason
            ),
        )
    } else {
        (
            Waiting::Stream,
            format!("pump {pump}'s stream (at TS {pump_ts}) has not passed TS {merged_ts} yet"),
        )
    };
    let failure = failure.filter(|_| waiting == Waiting::Unreachable);
    Some(HeldBy {
        pump,
        waiting,
        ts: merged_ts,
        pump_ts,
        since: failure.map(|f| rfc3339(f.since)),
        error: failure.map(|f| f.reason.clone()),
        start_ts: None,
        behind_ms: None,
        message,
    })
}

impl HeldBy {
    /// A `stream` hold explained by the pump's oldest prewrite without its commit, at
    /// `start_ts`.
    pub fn by_prewrite(self, start_ts: u64) -> HeldBy {
        HeldBy {
            waiting: Waiting::Prewrite,
            start_ts: Some(start_ts),
            message: format!(
                "pump {} holds a prewrite without its commit at start TS {start_ts}: its stream \
                 cannot pass it until TiDB sends the commit or rollback or the pump resolves it; \
                 the merge waits for it past TS {}",
                self.pump, self.ts
            ),
            ..self
        }
    }
}

/// The start TS of the oldest prewrite without its commit on the pump at `host`, from its
/// `/status` (`OldestPendingPrewrite`, ours); `None` when there is none or the pump does not
/// say (an original pump, or no answer).
pub async fn pending_prewrite(host: &str, tls: Option<&Tls>) -> Option<u64> {
    let url = format!("{}/status", url_with_scheme(host, tls, "pump").ok()?);
    let agent = http_agent(tls, PUMP_STATUS_TIMEOUT).ok()?;
    let ask = move || -> Option<u64> {
        let mut response = agent.get(&url).call().ok()?;
        let body = response.body_mut().read_to_string().ok()?;
        let reply: serde_json::Value = serde_json::from_str(&body).ok()?;
        reply["OldestPendingPrewrite"].as_u64()
    };
    tokio::task::spawn_blocking(ask).await.ok().flatten()
}

fn rfc3339(time: SystemTime) -> String {
    match jiff::Timestamp::try_from(time) {
        Ok(time) => time.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Err(_) => format!("{time:?}"),
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    fn pump(id: &str, state: NodeState) -> NodeStatus {
        NodeStatus {
            node_id: id.into(),
            host: "127.0.0.1:1".into(),
            state,
            is_alive: true,
            score: 0,
            label: None,
            max_commit_ts: 0,
            update_ts: 0,
        }
    }

    fn positions(of: &[(&str, u64)]) -> BTreeMap<String, u64> {
        of.iter().map(|(p, ts)| (p.to_string(), *ts)).collect()
    }

    #[test]
    fn a_paused_pump_read_least_far_holds() {
        let pumps = [pump("a", NodeState::Online), pump("b", NodeState::Paused)];
        let held = held_by(
            20,
            20,
            &pumps,
            &positions(&[("a", 30), ("b", 10)]),
            &BTreeMap::new(),
        )
        .unwrap();
        assert_eq!(held.pump, "b");
        assert_eq!(held.waiting, Waiting::Paused);
        assert_eq!((held.ts, held.pump_ts), (20, 10));
        assert_eq!(held.since, None);
        assert_eq!(
            held.message,
            "pump b is paused; the merge waits for it past TS 20"
        );
        let json = serde_json::to_value(&held).unwrap();
        assert_eq!(json["Waiting"], "paused");
        assert!(json.get("Error").is_none(), "{json}");
    }

    #[test]
    fn a_failing_stream_says_since_when_and_why() {
        let pumps = [pump("a", NodeState::Online), pump("b", NodeState::Online)];
        let failures = BTreeMap::from([(
            "a".to_string(),
            PullFailure {
                reason: "connect: refused".into(),
                since: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            },
        )]);
        let held = held_by(5, 5, &pumps, &positions(&[("a", 5), ("b", 9)]), &failures).unwrap();
        assert_eq!(held.waiting, Waiting::Unreachable);
        assert_eq!(held.since.as_deref(), Some("2023-11-14T22:13:20Z"));
        assert_eq!(held.error.as_deref(), Some("connect: refused"));
        assert_eq!(
            held.message,
            "pump a is not reachable since 2023-11-14T22:13:20Z: connect: refused; the merge \
             waits for it past TS 5"
        );
    }

    #[test]
    fn offline_pumps_do_not_hold_and_unknown_ones_are_at_zero() {
        let pumps = [
            pump("gone", NodeState::Offline),
            pump("new", NodeState::Online),
            pump("old", NodeState::Online),
        ];
        let held = held_by(
            7,
            7,
            &pumps,
            &positions(&[("gone", 1), ("old", 7)]),
            &BTreeMap::new(),
        )
        .unwrap();
        assert_eq!((held.pump.as_str(), held.waiting), ("new", Waiting::Stream));
        assert_eq!(
            held.message,
            "pump new's stream (at TS 0) has not passed TS 7 yet"
        );
        let held = held.by_prewrite(5);
        assert_eq!(held.waiting, Waiting::Prewrite);
        let json = serde_json::to_value(&held).unwrap();
        assert_eq!(
            (&json["Waiting"], &json["StartTS"]),
            (&"prewrite".into(), &5.into())
        );
        assert!(held
            .message
            .starts_with("pump new holds a prewrite without its commit at start TS 5"));
        assert_eq!(
            held_by(7, 7, &pumps[..1], &BTreeMap::new(), &BTreeMap::new()),
            None
        );
    }

    #[test]
    fn merged_binlogs_not_yet_applied_are_the_destination_behind() {
        let pumps = [pump("a", NodeState::Paused)];
        let (checkpoint, merged) = (1_000 << 18, 3_500 << 18);
        let held = held_by(
            merged,
            checkpoint,
            &pumps,
            &BTreeMap::new(),
            &BTreeMap::new(),
        );
        let held = held.unwrap();
        assert_eq!(held.waiting, Waiting::Destination);
        assert_eq!(held.behind_ms, Some(2_500));
        let json = serde_json::to_value(&held).unwrap();
        assert!(json.get("Pump").is_none(), "{json}");
        assert!(
            held.message.starts_with("the destination is behind"),
            "{}",
            held.message
        );
    }
}
