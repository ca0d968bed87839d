//! What `demo shared` says when no Redis server answers at `--redis-url`: how to start
//! one there when it is this machine, what to check when it is another, and never the
//! URL's password.

use signalwire_fabric::Error;

use crate::exit::{self, Failure};

/// Says what to do when no Redis server answers at `url`.
pub fn no_redis(url: &str, error: &Error) -> Failure {
    Failure {
        code: exit::NETWORK,
        message: format!(
            "no Redis server answered at {} ({error}).\n{}",
            shown_url(url),
            start_hint(url)
        ),
    }
}

/// `url` for messages, without its password (output is often logged).
pub fn shown_url(url: &str) -> String {
    match url::Url::parse(url.trim()) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(None);
            format!("{parsed} (password not shown)")
        }
        Ok(parsed) => parsed.to_string(),
        Err(_) => "the --redis-url given".to_owned(),
    }
}

/// How to get a Redis server at `url`: on this machine, one started on the URL's own
/// port; elsewhere, what to check (a server cannot be started on another host from
/// here), and the local alternative.
fn start_hint(url: &str) -> String {
    const LOCAL: &str = "redis-server --port 6379 --save '' --appendonly no";
    const INSTALL: &str = "(Debian/Ubuntu: apt-get install redis-server)";
    let parsed = url::Url::parse(url.trim()).ok();
    let Some((parsed, host)) = parsed
        .as_ref()
        .and_then(|parsed| Some((parsed, parsed.host()?)))
    else {
        // A Unix socket (unix://, redis+unix://), or no host at all.
        return "`demo shared` needs a Redis server listening there: check that one runs at \
            that address and that this user may connect to it"
            .to_owned();
    };
    let port = parsed.port().unwrap_or(6379);
    let tls = parsed.scheme() == "rediss";
    let loopback = match &host {
        // Hosts of redis:// URLs are not parsed as IP addresses (not a special scheme).
        url::Host::Domain(name) => {
            name.eq_ignore_ascii_case("localhost")
                || name
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    };
    if !loopback {
        return format!(
            "`demo shared` needs a Redis server at {host}:{port}: check that one runs there \
             and that this machine can reach it (host, port, firewall{}). Or try the demo \
             with one on this machine:\n  {LOCAL}    {INSTALL}\n\
             and `--redis-url redis://127.0.0.1:6379`",
            if tls {
                ", and TLS on that port, since the URL is rediss://"
            } else {
                ""
            }
        );
    }
    let (password, again) = if parsed.password().is_some() {
        (
            " --requirepass <the URL's password>",
            "the same command".to_owned(),
        )
    } else {
        (
            "",
            format!("`signalwire-fabric demo shared --redis-url {parsed}`"),
        )
    };
    let start = if tls {
        format!(
            "redis-server --port 0 --tls-port {port} --tls-cert-file <cert> --tls-key-file \
             <key> --tls-ca-cert-file <ca>{password} --save '' --appendonly no"
        )
    } else {
        format!("redis-server --port {port}{password} --save '' --appendonly no")
    };
    format!(
        "`demo shared` needs one on this machine, at port {port}. Start one, for example:\n  \
         {start}    {INSTALL}\n\
         then run {again} again"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hint_starts_a_local_server_on_the_urls_own_port() {
        for url in [
            "redis://127.0.0.1:6399",
            "redis://localhost:6399/1",
            "redis://[::1]:6399",
        ] {
            let hint = start_hint(url);
            assert!(
                hint.contains("redis-server --port 6399 --save '' --appendonly no"),
                "{hint}"
            );
            assert!(
                hint.contains(&format!("--redis-url {}` again", shown_url(url))),
                "{hint}"
            );
            assert!(!hint.contains("6379"), "{hint}");
        }
        // No port: Redis's own default.
        assert!(start_hint("redis://127.0.0.1").contains("redis-server --port 6379 "));
        // rediss:// wants TLS on that port.
        let tls = start_hint("rediss://127.0.0.1:6400");
        assert!(
            tls.contains("redis-server --port 0 --tls-port 6400"),
            "{tls}"
        );
    }

    #[test]
    fn the_hint_for_another_host_says_what_to_check_and_starts_nothing_there() {
        let hint = start_hint("redis://redis.internal:6390");
        assert!(
            hint.contains("needs a Redis server at redis.internal:6390: check that one runs there"),
            "{hint}"
        );
        assert!(!hint.contains("--port 6390"), "{hint}");
        assert!(!hint.contains("redis.internal:6390` again"), "{hint}");
        // The local alternative is offered as such.
        assert!(
            hint.contains("with one on this machine") && hint.contains("redis://127.0.0.1:6379"),
            "{hint}"
        );
        let tls = start_hint("rediss://10.0.0.5:6380");
        assert!(tls.contains("10.0.0.5:6380"), "{tls}");
        assert!(tls.contains("TLS on that port"), "{tls}");
        let socket = start_hint("redis+unix:///run/redis.sock");
        assert!(!socket.contains("redis-server --port"), "{socket}");
        assert!(socket.contains("check that one runs"), "{socket}");
    }

    #[test]
    fn a_password_in_the_url_is_never_shown() {
        for url in [
            "redis://:s3cret-word@127.0.0.1:6399",
            "redis://app:s3cret-word@redis.internal:6390/0",
            "rediss://app:s3cret-word@localhost",
        ] {
            let error = Error::coordinator("connection refused");
            let message = no_redis(url, &error).message;
            assert!(!message.contains("s3cret-word"), "{message}");
            assert!(message.contains("(password not shown)"), "{message}");
        }
        assert_eq!(
            shown_url("redis://127.0.0.1:6399"),
            "redis://127.0.0.1:6399"
        );
    }
}
