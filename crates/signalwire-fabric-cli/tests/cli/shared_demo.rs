//! `demo shared`: two processes of the command share one subscriber through a real
//! `redis-server` (started by `signalwire_fabric_redis::testing`, skipped visibly where it
//! is not installed, a failure under `CI=true`).

use signalwire_fabric_redis::testing::RedisServer;

use crate::common::{free_port, longest_token_like_run, signalwire_fabric};

#[test]
fn two_instances_share_a_subscriber_one_refreshes_and_the_other_adopts_each_rotation() {
    let test = "shared_demo::two_instances_share_a_subscriber_one_refreshes_and_the_other_adopts_each_rotation";
    let Some(server) = RedisServer::start(test) else {
        return;
    };
    let output = signalwire_fabric()
        .args([
            "demo",
            "shared",
            "--redis-url",
            &server.url(),
            "--rotations",
            "4",
        ])
        .timeout(std::time::Duration::from_secs(120))
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let joined: Vec<_> = stdout
        .lines()
        .filter(|line| line.contains("joined at generation 1"))
        .collect();
    assert_eq!(joined.len(), 2, "{stdout}");
    for rotation in 1..=4 {
        let lines: Vec<_> = stdout
            .lines()
            .filter(|line| {
                line.trim_start()
                    .starts_with(&format!("rotation {rotation}: "))
            })
            .collect();
        assert_eq!(lines.len(), 2, "{stdout}");
        let refreshed = lines
            .iter()
            .filter(|line| line.contains("refreshed: 1 request"))
            .count();
        let adopted = lines
            .iter()
            .filter(|line| line.contains("from Redis, no request"))
            .count();
        assert_eq!(
            (refreshed, adopted),
            (1, 1),
            "one refreshes, one adopts: {lines:?}"
        );
        let generation = format!("generation {}", rotation + 1);
        assert!(
            lines.iter().all(|line| line.contains(&generation)),
            "{lines:?}"
        );
        let hash = |line: &str| line.rsplit(' ').next().unwrap_or_default().to_owned();
        assert_eq!(hash(lines[0]), hash(lines[1]), "both hold the same token");
    }
    assert!(
        stdout.contains("refresh requests the fake saw      4 (4 new pairs, 0 rejected)"),
        "{stdout}"
    );
    assert!(
        longest_token_like_run(&stdout) < 60,
        "no token is printed: {stdout}"
    );
}

#[test]
fn without_a_redis_server_it_says_how_to_start_one_on_the_urls_own_port() {
    let port = free_port();
    let url = format!("redis://127.0.0.1:{port}");
    let output = signalwire_fabric()
        .args(["demo", "shared", "--redis-url", &url])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(5), "a network failure");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("no Redis server answered at {url}")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "redis-server --port {port} --save '' --appendonly no"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "then run `signalwire-fabric demo shared --redis-url {url}` again"
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("6379"), "not the default port: {stderr}");
    assert!(stderr.contains("apt-get install redis-server"), "{stderr}");
    assert!(output.stdout.is_empty());

    // A password in the URL is not echoed; the server to start wants one.
    let url = format!("redis://:s3cret-word@localhost:{port}/2");
    let output = signalwire_fabric()
        .args(["demo", "shared", "--redis-url", &url])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(5));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("s3cret-word"), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "no Redis server answered at redis://localhost:{port}/2 (password not shown)"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "redis-server --port {port} --requirepass <the URL's password>"
        )),
        "{stderr}"
    );
}
