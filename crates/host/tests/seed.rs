//! `scim-host seed` as `make bench` runs it: resources piped in as JSON
//! lines, ids read back, and the store it leaves passes `scim-host check`
//! (every invariant of docs/storage.md) exactly as one the component wrote.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const HOST: &str = env!("CARGO_BIN_EXE_scim-host");

fn manifest() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../spin.toml")
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("scim-seed-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn user(i: usize) -> String {
    serde_json::json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": format!("user{i}@seed.example"),
        "externalId": format!("ext-{i}"),
        "displayName": format!("User{i} Seed"),
        "emails": [{"value": format!("user{i}@seed.example"), "type": "work"}],
    })
    .to_string()
}

/// Runs `scim-host seed` with `lines` on stdin.
fn seed(state: &Path, extra: &[&str], lines: &[String]) -> Output {
    let mut child = Command::new(HOST)
        .arg("seed")
        .arg("--manifest")
        .arg(manifest())
        .arg("--state-dir")
        .arg(state)
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start scim-host seed");
    let mut stdin = child.stdin.take().unwrap();
    let input = lines.join("\n") + "\n";
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().expect("scim-host seed");
    writer.join().unwrap().unwrap();
    out
}

fn check(state: &Path) -> (i32, String) {
    let out = Command::new(HOST)
        .arg("check")
        .arg("--manifest")
        .arg(manifest())
        .arg("--state-dir")
        .arg(state)
        .output()
        .expect("scim-host check");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn a_seeded_store_passes_the_checker() {
    let state = temp_dir("ok");
    let users: Vec<String> = (0..600).map(user).collect();
    // Small batches: several commits, and one batch left open at the end.
    let out = seed(&state, &["--batch", "250", "--count", "600"], &users);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ids: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(ids.len(), 600);
    let distinct: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(distinct.len(), 600);

    // Groups over the seeded users, created the same way.
    let groups: Vec<String> = (0..3)
        .map(|g| {
            let members: Vec<_> = ids[g * 100..g * 100 + 150]
                .iter()
                .map(|id| serde_json::json!({"value": id}))
                .collect();
            serde_json::json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": format!("seed-group-{g}"),
                "members": members,
            })
            .to_string()
        })
        .collect();
    let out = seed(&state, &["--path", "/Groups"], &groups);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 3);

    let (code, report) = check(&state);
    assert_eq!(code, 0, "{report}");
    assert!(report.contains("600 users, 3 groups"), "{report}");
    assert!(report.contains("450 members"), "{report}");
    assert!(report.contains("0 violations, 0 leftovers"), "{report}");
    let _ = std::fs::remove_dir_all(&state);
}

#[test]
fn a_line_the_service_refuses_stops_the_seed_and_keeps_the_lines_before() {
    let state = temp_dir("refused");
    // The third line reuses the first one's userName: 409 uniqueness.
    let lines = vec![user(1), user(2), user(1), user(3)];
    let out = seed(&state, &[], &lines);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 3") && err.contains("409"), "{err}");
    assert!(err.contains("uniqueness"), "{err}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 2);

    // Not JSON: the SCIM error, not a panic.
    let out = seed(&state, &[], &["{not json".to_string()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 1") && err.contains("400"), "{err}");

    let (code, report) = check(&state);
    assert_eq!(code, 0, "{report}");
    assert!(report.contains(" 2 users"), "{report}");
    let _ = std::fs::remove_dir_all(&state);
}
