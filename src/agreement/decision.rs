//! Whether a record may be deleted, from the agreement alone: pure, so every case is
//! unit-tested and the DNS side can show the reason in its status line.

use super::view::AgreementView;

/// The verdict of [`decide_delete`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeleteDecision {
    Delete,
    /// Keep the record; the text says why, for a status line.
    Hold(String),
}

/// A record may be deleted only when etcd is reachable and at least `min_agree` live
/// monitors (this one included) vote the endpoint down. A `min_agree` of 0 counts as 1:
/// deleting with nobody seeing the endpoint down is never right.
///
/// Leadership is not checked here: the caller decides who sends the UPDATE.
pub fn decide_delete(view: &AgreementView, endpoint: &str, min_agree: usize) -> DeleteDecision {
    if let Err(why) = &view.etcd {
        return DeleteDecision::Hold(format!("etcd unreachable: {why}"));
    }
    let min_agree = min_agree.max(1);
    let down: Vec<&str> = view
        .votes
        .get(endpoint)
        .into_iter()
        .flatten()
        .filter(|(_, down)| **down)
        .map(|(monitor, _)| monitor.as_str())
        .collect();
    if down.len() >= min_agree {
        return DeleteDecision::Delete;
    }
    let who = if down.is_empty() {
        String::new()
    } else {
        format!(" ({})", down.join(", "))
    };
    DeleteDecision::Hold(format!(
        "{} of {} required monitors see it down{}; waiting for {} more",
        down.len(),
        min_agree,
        who,
        min_agree - down.len()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    const EP: &str = "www.example.net./A/198.51.100.10";

    fn view(votes: &[(&str, &str, bool)]) -> AgreementView {
        let mut map: BTreeMap<String, BTreeMap<String, bool>> = BTreeMap::new();
        for (endpoint, monitor, down) in votes {
            map.entry(endpoint.to_string())
                .or_default()
                .insert(monitor.to_string(), *down);
        }
        AgreementView {
            etcd: Ok(()),
            leader: true,
            leader_id: Some("fra-1".into()),
            votes: map,
        }
    }

    fn hold(text: &str) -> DeleteDecision {
        DeleteDecision::Hold(text.to_string())
    }

    #[test]
    fn no_votes_hold() {
        assert_eq!(
            decide_delete(&view(&[]), EP, 2),
            hold("0 of 2 required monitors see it down; waiting for 2 more")
        );
    }

    #[test]
    fn own_vote_alone_holds_unless_one_is_enough() {
        let v = view(&[(EP, "fra-1", true)]);
        assert_eq!(
            decide_delete(&v, EP, 2),
            hold("1 of 2 required monitors see it down (fra-1); waiting for 1 more")
        );
        assert_eq!(decide_delete(&v, EP, 1), DeleteDecision::Delete);
    }

    #[test]
    fn below_at_and_above_min_agree() {
        let v = view(&[
            (EP, "ams-1", true),
            (EP, "fra-1", true),
            (EP, "lon-1", true),
        ]);
        assert_eq!(
            decide_delete(&v, EP, 4),
            hold("3 of 4 required monitors see it down (ams-1, fra-1, lon-1); waiting for 1 more")
        );
        assert_eq!(decide_delete(&v, EP, 3), DeleteDecision::Delete);
        assert_eq!(decide_delete(&v, EP, 2), DeleteDecision::Delete);
    }

    #[test]
    fn up_votes_do_not_count() {
        let v = view(&[
            (EP, "ams-1", false),
            (EP, "fra-1", true),
            (EP, "lon-1", false),
        ]);
        assert_eq!(
            decide_delete(&v, EP, 2),
            hold("1 of 2 required monitors see it down (fra-1); waiting for 1 more")
        );
        let all_up = view(&[(EP, "ams-1", false), (EP, "fra-1", false)]);
        assert_eq!(
            decide_delete(&all_up, EP, 1),
            hold("0 of 1 required monitors see it down; waiting for 1 more")
        );
    }

    #[test]
    fn votes_on_other_endpoints_do_not_count() {
        let other = "www.example.net./A/198.51.100.11";
        let v = view(&[
            (other, "ams-1", true),
            (other, "fra-1", true),
            (EP, "lon-1", true),
        ]);
        assert_eq!(
            decide_delete(&v, EP, 2),
            hold("1 of 2 required monitors see it down (lon-1); waiting for 1 more")
        );
        assert_eq!(decide_delete(&v, other, 2), DeleteDecision::Delete);
    }

    #[test]
    fn stale_monitors_are_absent_so_they_no_longer_count() {
        // Three saw it down; the lease of one expired, so its vote left the view.
        let mut v = view(&[
            (EP, "ams-1", true),
            (EP, "fra-1", true),
            (EP, "lon-1", true),
        ]);
        assert_eq!(decide_delete(&v, EP, 3), DeleteDecision::Delete);
        if let Some(monitors) = v.votes.get_mut(EP) {
            monitors.remove("lon-1");
        }
        assert_eq!(
            decide_delete(&v, EP, 3),
            hold("2 of 3 required monitors see it down (ams-1, fra-1); waiting for 1 more")
        );
    }

    #[test]
    fn etcd_down_holds_whatever_the_votes_say() {
        let mut v = view(&[
            (EP, "ams-1", true),
            (EP, "fra-1", true),
            (EP, "lon-1", true),
        ]);
        v.etcd = Err("connection refused".into());
        assert_eq!(
            decide_delete(&v, EP, 1),
            hold("etcd unreachable: connection refused")
        );
        assert_eq!(
            decide_delete(&AgreementView::default(), EP, 1),
            hold("etcd unreachable: not connected yet")
        );
    }

    #[test]
    fn min_agree_zero_counts_as_one() {
        assert_eq!(
            decide_delete(&view(&[]), EP, 0),
            hold("0 of 1 required monitors see it down; waiting for 1 more")
        );
        assert_eq!(
            decide_delete(&view(&[(EP, "fra-1", true)]), EP, 0),
            DeleteDecision::Delete
        );
    }

    #[test]
    fn leadership_does_not_change_the_decision() {
        let mut v = view(&[(EP, "ams-1", true), (EP, "fra-1", true)]);
        v.leader = false;
        v.leader_id = None;
        assert_eq!(decide_delete(&v, EP, 2), DeleteDecision::Delete);
    }
}
