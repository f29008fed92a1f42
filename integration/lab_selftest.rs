//! The lab on its own, without the warden: BIRD 2 exports what a hand-written include file
//! allows, and GoBGP gains and loses the prefixes after `birdc configure`.

mod lab;

use std::fs;
use std::time::Duration;

use lab::{Lab, Need, nets, render_bird2_sets};

#[test]
fn bird2_and_gobgp_exchange_what_the_include_file_allows() {
    let Some(lab) = Lab::new_or_skip("lab-selftest", &[Need::Bird2, Need::Gobgp]) else {
        return;
    };
    let service = nets(&["203.0.113.53/32", "2001:db8::53/128"]);
    lab.add_lo_addresses(&service.iter().copied().collect::<Vec<_>>())
        .unwrap();
    let router = lab.start_router(false);
    let bird = lab.start_bird2();
    let up = router.wait_established(Duration::from_secs(30)).unwrap();
    eprintln!("BGP session Established after {up:?}");
    let monitor = router.monitor();
    assert_eq!(
        router.rib().unwrap(),
        nets(&[]),
        "empty sets export nothing"
    );

    let before = bird.reconfigure_count();
    fs::write(bird.include_file(), render_bird2_sets(&service)).unwrap();
    bird.configure().unwrap();
    let took = router
        .wait_for_rib(&service, Duration::from_secs(10))
        .unwrap();
    eprintln!("announced in {took:?}");
    assert_eq!(
        bird.reconfigure_count(),
        before + 1,
        "one configure, one log line"
    );

    fs::write(bird.include_file(), render_bird2_sets(&nets(&[]))).unwrap();
    bird.configure().unwrap();
    let took = router
        .wait_for_rib(&nets(&[]), Duration::from_secs(10))
        .unwrap();
    eprintln!("withdrawn in {took:?}");
    assert_eq!(bird.reconfigure_count(), before + 2);

    for prefix in &service {
        monitor
            .wait_for(Duration::from_secs(5), |e| {
                e.prefix == *prefix && e.withdrawal
            })
            .unwrap();
        let events = monitor.events_for(prefix);
        assert!(
            matches!(events.as_slice(), [a, w] if !a.withdrawal && w.withdrawal && a.at <= w.at),
            "{prefix}: expected an announcement then a withdrawal, saw {events:?}"
        );
    }
}
