//! Bad databases and unreachable servers give clear errors, never panics.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
#![allow(missing_docs)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::TempDir;
use phishgate_store::{ErrorKind, Store, SQLITE_FILE};

#[tokio::test]
async fn corrupt_sqlite_file_is_a_clear_error() {
    let dir = TempDir::new();
    let path = dir.path().join(SQLITE_FILE);
    let garbage: Vec<u8> = (0..64 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&path, garbage).unwrap();
    let err = Store::open("", dir.path()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Corrupt, "{err}");
    assert!(
        err.message().contains(&path.display().to_string()),
        "names the file: {err}"
    );
    assert!(
        err.message().contains("not a usable SQLite database"),
        "{err}"
    );
}

#[tokio::test]
async fn truncated_sqlite_file_is_a_clear_error() {
    // A real database cut in half: the header is fine, the pages are not.
    let dir = TempDir::new();
    {
        let store = Store::open("", dir.path()).await.unwrap();
        let records: Vec<_> = (0..500).map(|i| common::record(i, i as i64)).collect();
        store.record_batch(&records).await.unwrap();
        store.close().await;
    }
    let path = dir.path().join(SQLITE_FILE);
    let _ = std::fs::remove_file(dir.path().join("phishgate.sqlite-wal"));
    let _ = std::fs::remove_file(dir.path().join("phishgate.sqlite-shm"));
    let bytes = std::fs::read(&path).unwrap();
    let mut damaged = bytes[..100].to_vec();
    damaged.extend(std::iter::repeat_n(0xAB, bytes.len() - 100));
    std::fs::write(&path, damaged).unwrap();
    match Store::open("", dir.path()).await {
        Err(err) => assert_eq!(err.kind(), ErrorKind::Corrupt, "{err}"),
        Ok(store) => {
            // Opening may succeed if the damage is past what open reads;
            // then reading must fail cleanly.
            let err = store.history(&Default::default()).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Corrupt, "{err}");
        }
    }
}

#[tokio::test]
async fn nonexistent_directory_is_a_clear_error() {
    let dir = TempDir::new();
    let missing = dir.path().join("no/such/dir");
    let err = Store::open("", &missing).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(err.message().contains("no/such/dir"), "{err}");
    assert!(err.message().contains("directory"), "{err}");
    // A path through a regular file.
    let file = dir.path().join("plain-file");
    std::fs::write(&file, b"x").unwrap();
    let err = Store::open(&format!("sqlite:{}/db.sqlite", file.display()), dir.path())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
}

#[tokio::test]
async fn unwritable_location_is_a_clear_error() {
    // Tests may run as root, which ignores permission bits; /proc refuses
    // file creation to everyone.
    let err = Store::open("sqlite:/proc/phishgate-test.sqlite", Path::new("/"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(
        err.message().contains("/proc/phishgate-test.sqlite"),
        "{err}"
    );
}

#[tokio::test]
async fn read_only_directory_is_a_clear_error_for_non_root() {
    let dir = TempDir::new();
    let ro = dir.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    let mut perms = std::fs::metadata(&ro).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o555);
    std::fs::set_permissions(&ro, perms).unwrap();
    // As root this directory is writable after all; either way no panic,
    // and a failure is a clear Unavailable.
    match Store::open("", &ro).await {
        Ok(store) => store.health().await.unwrap(),
        Err(err) => assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}"),
    }
    let mut perms = std::fs::metadata(&ro).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&ro, perms).unwrap();
}

#[tokio::test]
async fn unreachable_postgres_is_unavailable_quickly() {
    let start = Instant::now();
    let err = Store::open("postgres://postgres:secret@127.0.0.1:1/x", Path::new("/"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "took {:?}",
        start.elapsed()
    );
    assert!(err.message().contains("127.0.0.1:1"), "{err}");
    assert!(!err.message().contains("secret"), "password leaked: {err}");
}

#[tokio::test]
async fn missing_postgres_database_is_unavailable() {
    let url = common::pg_url_with_db(&common::pg_base_url(), "phishgate_no_such_database");
    let err = Store::open(&url, Path::new("/")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(
        err.message().contains("phishgate_no_such_database"),
        "{err}"
    );
}

#[tokio::test]
async fn bad_specs_are_invalid() {
    for spec in ["mysql://x", "sqlite:", "redis://y"] {
        let err = Store::open(spec, Path::new("/tmp")).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid, "{spec}: {err}");
    }
    let err = Store::open("postgres://u@[bad", Path::new("/tmp"))
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Invalid | ErrorKind::Unavailable),
        "{err}"
    );
}

#[tokio::test]
async fn reopening_keeps_data_and_migrations_are_idempotent() {
    let dir = TempDir::new();
    {
        let store = Store::open("sqlite", dir.path()).await.unwrap();
        store.record(&common::record(1, 5)).await.unwrap();
        store.close().await;
    }
    let store = Store::open(
        &format!("sqlite:{}", dir.path().join(SQLITE_FILE).display()),
        Path::new("/"),
    )
    .await
    .unwrap();
    assert!(store.history_get("h000001").await.unwrap().is_some());
    // WAL mode is on.
    assert!(dir.path().join("phishgate.sqlite-wal").exists());
}

/// A full disk is `Full` for history and quarantine writes alike, reads go
/// on, and once space is freed the same `Store` writes again (no reopen, no
/// repair). Needs root for the small tmpfs, like the rest of the suite.
#[tokio::test]
async fn full_disk_is_full_and_recovers() {
    use std::io::Write;
    let dir = TempDir::new();
    let mnt = dir.path().join("small");
    std::fs::create_dir_all(&mnt).unwrap();
    let out = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=2m", "tmpfs"])
        .arg(&mnt)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "mounting a tmpfs needs root: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount")
                .arg("-l")
                .arg(&self.0)
                .output();
        }
    }
    let _unmount = Unmount(mnt.clone());
    let store = Store::open("", &mnt).await.unwrap();
    store.record(&common::record(0, 1_000)).await.unwrap();

    let filler = mnt.join("filler");
    let mut f = std::fs::File::create(&filler).unwrap();
    while f.write_all(&[0u8; 4096]).is_ok() {}
    while f.write_all(&[0u8]).is_ok() {}
    drop(f);

    let mut full = None;
    for i in 1..200 {
        if let Err(e) = store.record(&common::record(i, 1_000 + i as i64)).await {
            full = Some(e);
            break;
        }
    }
    let err = full.expect("a full disk must fail writes");
    assert_eq!(err.kind(), ErrorKind::Full, "{err}");
    let err = store
        .quarantine_put(&common::quarantined("qfull", 5_000, 2))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Full, "{err}");
    // Reads still work.
    assert!(store.history_get("h000000").await.unwrap().is_some());

    std::fs::remove_file(&filler).unwrap();
    store
        .quarantine_put(&common::quarantined("qfull", 5_000, 2))
        .await
        .unwrap();
    store.record(&common::record(500, 9_000)).await.unwrap();
    assert!(store.quarantine_get("qfull").await.unwrap().is_some());
    store.close().await;
}
