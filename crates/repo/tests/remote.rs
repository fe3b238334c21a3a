//! The remote: records travel between clones, and the lease is held by one clone at a time.
//! Real git repositories: a bare remote and clones of it, made with the git command line.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use orgsync_repo::lease::{Lease, LeaseError, LeaseOptions, Place};
use orgsync_repo::remote::Remote;
use orgsync_repo::{ConfigRepo, NOTES_REF};

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A bare remote with one commit, and `n` clones of it.
struct Setup {
    _tmp: tempfile::TempDir,
    clones: Vec<PathBuf>,
    commit: String,
}

fn setup(n: usize) -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let remote = tmp.path().join("remote.git");
    git(
        tmp.path(),
        &["init", "-q", "--bare", remote.to_str().unwrap()],
    );
    let seed = tmp.path().join("seed");
    git(tmp.path(), &["init", "-q", seed.to_str().unwrap()]);
    std::fs::write(seed.join("orgsync.yaml"), "version: 1\n").unwrap();
    git(&seed, &["add", "."]);
    git(&seed, &["commit", "-qm", "configuration"]);
    git(
        &seed,
        &["remote", "add", "origin", remote.to_str().unwrap()],
    );
    git(&seed, &["push", "-q", "origin", "HEAD:refs/heads/main"]);
    let commit = git(&seed, &["rev-parse", "HEAD"]);
    let clones = (0..n)
        .map(|i| {
            let c = tmp.path().join(format!("clone{i}"));
            git(
                tmp.path(),
                &["clone", "-q", remote.to_str().unwrap(), c.to_str().unwrap()],
            );
            c
        })
        .collect();
    Setup {
        _tmp: tmp,
        clones,
        commit,
    }
}

fn open(dir: &Path) -> Arc<ConfigRepo> {
    Arc::new(ConfigRepo::discover(dir).unwrap().expect("a repository"))
}

fn note(dir: &Path, commit: &str) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(["notes", "--ref", "orgsync", "show", commit])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Regression (a fresh clone loses the guard): `git clone` does not fetch the notes; pulling
/// them brings every record, and two clones that both recorded an apply end with both lines, in
/// each clone's order, none twice.
#[test]
fn records_travel_between_clones_and_merge_line_by_line() {
    let s = setup(2);
    let (a, b) = (open(&s.clones[0]), open(&s.clones[1]));
    let (ra, rb) = (Remote::of(&a).unwrap(), Remote::of(&b).unwrap());
    assert!(!ra.pull_notes(&a).unwrap(), "no records on the remote yet");
    a.append_note(&s.commit, "{\"n\":1}").unwrap();
    ra.push_notes(&a).unwrap();
    assert!(rb.pull_notes(&b).unwrap());
    assert_eq!(note(&s.clones[1], &s.commit), "{\"n\":1}\n");
    // Both record an apply; b pushes first, a's push is refused, merged and pushed again.
    a.append_note(&s.commit, "{\"n\":2}").unwrap();
    b.append_note(&s.commit, "{\"n\":3}").unwrap();
    rb.push_notes(&b).unwrap();
    ra.push_notes(&a).unwrap();
    assert_eq!(
        note(&s.clones[0], &s.commit),
        "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n"
    );
    rb.pull_notes(&b).unwrap();
    assert_eq!(
        note(&s.clones[1], &s.commit),
        "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n",
        "the merge fast-forwards b"
    );
    // Nothing is left behind in the clones' refs.
    let refs = git(&s.clones[0], &["for-each-ref", "--format=%(refname)"]);
    assert!(!refs.contains("refs/orgsync/fetched"), "{refs}");
    assert!(refs.contains(NOTES_REF));
}

fn options(wait: Duration) -> LeaseOptions {
    LeaseOptions {
        holder: "tester".to_owned(),
        ttl: Duration::from_secs(8),
        wait,
    }
}

fn take(dir: &Path, wait: Duration) -> Result<Lease, LeaseError> {
    let repo = open(dir);
    let remote = Remote::of(&repo).unwrap();
    Lease::take(
        Some(repo),
        Place::Remote(remote),
        "scim:https://example.com",
        &options(wait),
        || {},
    )
}

/// Regression (two applies from two clones double everything): the lease on the remote is
/// held by one clone at a time; released, the other takes it; waiting, it gets it when freed.
#[test]
fn the_remote_lease_is_held_by_one_clone_at_a_time() {
    let s = setup(2);
    let first = take(&s.clones[0], Duration::ZERO).expect("free");
    assert!(first.is_remote());
    match take(&s.clones[1], Duration::ZERO) {
        Err(LeaseError::Held { info, .. }) => {
            assert_eq!(info.target, "scim:https://example.com");
            assert_eq!(info.holder, "tester");
        }
        other => panic!("held expected: {other:?}"),
    }
    let waiter = {
        let dir = s.clones[1].clone();
        std::thread::spawn(move || take(&dir, Duration::from_secs(20)))
    };
    std::thread::sleep(Duration::from_millis(500));
    first.release().unwrap();
    let second = waiter.join().unwrap().expect("taken once released");
    drop(second);
    take(&s.clones[0], Duration::ZERO).expect("dropping releases it");
}

/// Many takers at once over two clones: exactly one holds the lease at any moment.
#[test]
fn concurrent_takers_never_hold_the_lease_together() {
    let s = setup(2);
    let holders = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let most = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let won = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let threads: Vec<_> = (0..6)
        .map(|i| {
            let dir = s.clones[i % 2].clone();
            let (holders, most, won) = (holders.clone(), most.clone(), won.clone());
            std::thread::spawn(move || {
                use std::sync::atomic::Ordering::SeqCst;
                for _ in 0..3 {
                    if let Ok(lease) = take(&dir, Duration::ZERO) {
                        let now = holders.fetch_add(1, SeqCst) + 1;
                        most.fetch_max(now, SeqCst);
                        won.fetch_add(1, SeqCst);
                        std::thread::sleep(Duration::from_millis(150));
                        holders.fetch_sub(1, SeqCst);
                        lease.release().unwrap();
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    use std::sync::atomic::Ordering::SeqCst;
    assert_eq!(most.load(SeqCst), 1, "never two holders");
    assert!(won.load(SeqCst) >= 1);
}

/// A lease whose holder stopped renewing (killed on another machine) lapses and is then taken
/// over; until then it is held.
#[test]
fn a_lapsed_lease_is_taken_over() {
    let s = setup(2);
    let dir = &s.clones[0];
    let plant = |expires: &str| {
        let info = orgsync_repo::lease::LeaseInfo {
            target: "scim:https://example.com".to_owned(),
            holder: "nightly".to_owned(),
            host: "another-runner".to_owned(),
            pid: 4242,
            acquired: "2026-12-06T02:17:00Z".to_owned(),
            expires: expires.to_owned(),
            nonce: 7,
        };
        let tree = git(dir, &["hash-object", "-t", "tree", "-w", "/dev/null"]);
        let commit = git(
            dir,
            &[
                "commit-tree",
                &tree,
                "-m",
                &serde_json::to_string(&info).unwrap(),
            ],
        );
        let refname = orgsync_repo::lease::refname("scim:https://example.com");
        git(
            dir,
            &["push", "-q", "-f", "origin", &format!("{commit}:{refname}")],
        );
    };
    plant("2999-01-01T00:00:00Z");
    match take(&s.clones[1], Duration::ZERO) {
        Err(LeaseError::Held { info, .. }) => assert_eq!(info.holder, "nightly"),
        other => panic!("held expected: {other:?}"),
    }
    plant("2020-01-01T00:00:00Z");
    take(&s.clones[1], Duration::ZERO).expect("lapsed");
}

/// Regression (two holders at once, seen in CI): two takers with one holder name, host and pid
/// in one second (two CI containers, or two threads) wrote the same lease commit, and git
/// reports pushing a ref's own value "up to date" without checking the expected one — both
/// held the lease. Each take now writes a commit of its own (checked deterministically by
/// `two_leases_taken_in_one_second_are_different_commits` in `lease.rs`). This guard only makes
/// the race likely — takers start together, round after round — and did not catch it every
/// time: at most one of each round holds the lease.
#[test]
fn takers_starting_together_never_both_hold() {
    let s = setup(1);
    for round in 0..8 {
        let barrier = Arc::new(std::sync::Barrier::new(4));
        let takers: Vec<_> = (0..4)
            .map(|_| {
                let (dir, barrier) = (s.clones[0].clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    take(&dir, Duration::ZERO).ok()
                })
            })
            .collect();
        let held: Vec<Lease> = takers
            .into_iter()
            .filter_map(|t| t.join().unwrap())
            .collect();
        assert!(
            held.len() <= 1,
            "round {round}: {} holders at once",
            held.len()
        );
        for lease in held {
            lease.release().unwrap();
        }
    }
}
