//! Robustness: odd or hostile input gets a 4xx (or is accepted), never a
//! 5xx, a panic or a hang; live reads end when their stream goes away, and
//! a stalled reader cannot hold up shutdown.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use ds_reference_server::store::ttl::Clock;
use ds_reference_server::{app, AppState, Config};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::AsyncWriteExt;

mod common;
use common::{send, JSON, TEXT};

fn quick() -> Config {
    Config {
        long_poll_timeout: Duration::from_millis(20),
        sse_max_duration: Duration::from_millis(20),
        max_chunk_bytes: 5,
        max_body_bytes: 1024,
        ..Config::default()
    }
}

/// A fresh data directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("ds-robustness-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test]
async fn boundary_values_are_accepted_or_a_4xx() {
    let app = app(AppState::new(Config {
        max_body_bytes: 1 << 20,
        ..quick()
    })
    .unwrap());
    let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n)).into_bytes();
    let ok = StatusCode::NO_CONTENT;
    let bad = StatusCode::BAD_REQUEST;
    send(&app, "PUT", "/j", &[JSON], b"").await;
    send(&app, "PUT", "/t", &[TEXT], b"").await;
    type Case<'a> = (
        &'a str,
        &'a str,
        Vec<(&'a str, &'a [u8])>,
        Vec<u8>,
        StatusCode,
    );
    let cases: Vec<Case> = vec![
        // JSON: deep nesting is parsed without recursion, so it is accepted.
        ("POST", "/j", vec![JSON], nested(100_000), ok),
        (
            "PUT",
            "/jd",
            vec![JSON],
            nested(100_000),
            StatusCode::CREATED,
        ),
        ("POST", "/j", vec![JSON], b"1e999999999".to_vec(), ok),
        ("POST", "/j", vec![JSON], b"  \n ".to_vec(), bad),
        ("PUT", "/jw", vec![JSON], b" ".to_vec(), bad),
        ("POST", "/j", vec![JSON], b"[]".to_vec(), bad),
        ("POST", "/j", vec![JSON], b"\"\xff\"".to_vec(), bad),
        // Lifetimes at the edges of their ranges.
        (
            "PUT",
            "/ttl",
            vec![("stream-ttl", b"18446744073709551615")],
            vec![],
            StatusCode::CREATED,
        ),
        (
            "PUT",
            "/ttl2",
            vec![("stream-ttl", b"18446744073709551616")],
            vec![],
            bad,
        ),
        (
            "PUT",
            "/ea",
            vec![("stream-expires-at", b"9999-12-31T23:59:59-23:59")],
            vec![],
            StatusCode::CREATED,
        ),
        // Producer and fork numbers at and past their limits.
        (
            "POST",
            "/t",
            vec![
                TEXT,
                ("producer-id", b"p"),
                ("producer-epoch", b"9007199254740991"),
                ("producer-seq", b"0"),
            ],
            b"x".to_vec(),
            StatusCode::OK,
        ),
        (
            "POST",
            "/t",
            vec![
                TEXT,
                ("producer-id", b"p"),
                ("producer-epoch", b"9007199254740992"),
                ("producer-seq", b"0"),
            ],
            b"x".to_vec(),
            bad,
        ),
        (
            "PUT",
            "/f",
            vec![
                ("stream-forked-from", b"/t"),
                ("stream-fork-offset", b"0000000000000000_0000000000000000"),
                ("stream-fork-sub-offset", b"9007199254740991"),
            ],
            vec![],
            bad,
        ),
        (
            "PUT",
            "/f",
            vec![
                ("stream-forked-from", b"/t"),
                ("stream-fork-offset", b"0000000000000000_9999999999999999"),
            ],
            vec![],
            bad,
        ),
        // Odd encodings: bad UTF-8 in headers, odd queries and paths.
        (
            "POST",
            "/t",
            vec![TEXT, ("stream-seq", b"\xff")],
            b"x".to_vec(),
            bad,
        ),
        ("GET", "/t?offset=%", vec![], vec![], bad),
        ("GET", "/t?offset=%zz&&=&", vec![], vec![], bad),
        ("GET", "/t?offset=-1&offset=-1", vec![], vec![], bad),
        ("GET", "/t?%6Fffset=now", vec![], vec![], StatusCode::OK),
        ("GET", "/%E2%82", vec![], vec![], StatusCode::NOT_FOUND),
        // A protocol header sent twice is ambiguous.
        ("POST", "/t", vec![TEXT, TEXT], b"x".to_vec(), bad),
        (
            "POST",
            "/t",
            vec![
                TEXT,
                ("producer-id", b"a"),
                ("producer-id", b"b"),
                ("producer-epoch", b"0"),
                ("producer-seq", b"0"),
            ],
            b"x".to_vec(),
            bad,
        ),
    ];
    for (method, uri, headers, body, want) in cases {
        let r = send(&app, method, uri, &headers, &body).await;
        assert_eq!(r.status, want, "{method} {uri} {headers:?}");
    }
    let r = send(&app, "HEAD", "/ttl", &[], b"").await;
    assert_eq!(r.h("stream-ttl"), Some("18446744073709551615"));
    assert_eq!(
        send(&app, "GET", "/ea", &[], b"").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn live_reads_end_when_their_stream_is_deleted_or_expires() {
    let clock = Clock::manual(time::OffsetDateTime::now_utc());
    let config = Config {
        long_poll_timeout: Duration::from_secs(20),
        sse_max_duration: Duration::from_secs(20),
        sweep_interval: Duration::from_millis(10),
        ..Config::default()
    };
    let state = AppState::with_clock(config, clock.clone()).unwrap();
    let server = ds_reference_server::spawn_with_state(state).await.unwrap();
    let client = reqwest::Client::new();
    for live in ["long-poll", "sse"] {
        for expire in [false, true] {
            let url = format!("{}/w-{live}-{expire}", server.url);
            let mut put = client.put(&url).header("content-type", "text/plain");
            if expire {
                put = put.header("stream-ttl", "5");
            }
            assert_eq!(put.send().await.unwrap().status(), 201);
            let read = client.get(format!("{url}?offset=now&live={live}")).send();
            let (c, u, k) = (client.clone(), url.clone(), clock.clone());
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(100)).await;
                if expire {
                    k.advance(Duration::from_secs(10));
                } else {
                    c.delete(u).send().await.unwrap();
                }
            });
            let started = Instant::now();
            let status = tokio::time::timeout(Duration::from_secs(5), async {
                let r = read.await.unwrap();
                let status = r.status();
                r.bytes().await.unwrap();
                status
            })
            .await
            .unwrap_or_else(|_| panic!("{live} on {url} hangs"));
            assert!(started.elapsed() < Duration::from_secs(3), "{live} {url}");
            let want = if live == "sse" { 200 } else { 404 };
            assert_eq!(status.as_u16(), want, "{live} {url}");
        }
    }
    server.shutdown().await;
}

#[tokio::test]
async fn a_client_that_stops_reading_sse_does_not_hold_up_shutdown() {
    let server = ds_reference_server::spawn(Config {
        max_chunk_bytes: 64 * 1024,
        shutdown_grace: Duration::from_millis(200),
        ..Config::default()
    })
    .await
    .unwrap();
    let url = format!("{}/big", server.url);
    let put = reqwest::Client::new()
        .put(&url)
        .header("content-type", "application/octet-stream")
        .body(vec![7u8; 16 << 20]);
    assert_eq!(put.send().await.unwrap().status(), 201);
    // Asks for 16 MiB of SSE and never reads a byte of it.
    let mut conn = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    conn.write_all(b"GET /big?offset=-1&live=sse HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    server.shutdown().await;
    // `RunningServer::shutdown` aborts after 5 s; `serve` itself must end.
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    drop(conn);
}

/// A client that hangs up on a waiting long-poll or SSE read frees it: the
/// stream stops counting the reader (no session, task or timer left behind
/// until the read's own timeout).
#[tokio::test]
async fn a_live_read_whose_client_hangs_up_is_freed() {
    use tokio::io::AsyncReadExt;
    let state = AppState::new(Config {
        long_poll_timeout: Duration::from_secs(60),
        sse_max_duration: Duration::from_secs(60),
        ..Config::default()
    })
    .unwrap();
    let server = ds_reference_server::spawn_with_state(state.clone())
        .await
        .unwrap();
    let put = reqwest::Client::new()
        .put(format!("{}/hang", server.url))
        .header("content-type", "text/plain");
    assert_eq!(put.send().await.unwrap().status(), 201);
    let stream = state.store().find("/hang").durable().await.unwrap();
    let readers = |n: usize| {
        let stream = stream.clone();
        async move {
            for _ in 0..400 {
                if stream.live_readers() == n {
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            false
        }
    };
    for live in ["long-poll", "sse"] {
        let mut conn = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        let req = format!("GET /hang?offset=now&live={live} HTTP/1.1\r\nHost: x\r\n\r\n");
        conn.write_all(req.as_bytes()).await.unwrap();
        if live == "sse" {
            // The response head and the first control event are out.
            let mut buf = [0u8; 12];
            conn.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"HTTP/1.1 200");
        }
        assert!(readers(1).await, "{live}: the reader never waited");
        drop(conn);
        assert!(readers(0).await, "{live}: the hung-up reader is still held");
    }
    server.shutdown().await;
}

/// A POST to a missing stream is answered 404 before its body is uploaded:
/// the client declares 8 MiB, sends none of it, and still gets its answer.
#[tokio::test]
async fn a_post_to_a_missing_stream_is_answered_before_its_body() {
    use tokio::io::AsyncReadExt;
    let server = ds_reference_server::spawn(Config::default()).await.unwrap();
    let mut conn = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let head = "POST /missing HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n\
                Content-Length: 8388608\r\n\r\n";
    conn.write_all(head.as_bytes()).await.unwrap();
    let mut buf = [0u8; 12];
    let read = tokio::time::timeout(Duration::from_secs(10), conn.read_exact(&mut buf)).await;
    assert!(read.is_ok(), "no answer while the body was withheld");
    assert_eq!(&buf, b"HTTP/1.1 404", "{:?}", String::from_utf8_lossy(&buf));
    drop(conn);
    server.shutdown().await;
}

/// Header values for the random requests: well-formed, boundary, hostile.
const VALUES: &[&[u8]] = &[
    b"",
    b"0",
    b"1",
    b"-1",
    b"01",
    b"true",
    b"false",
    b"18446744073709551616",
    b"9007199254740991",
    b"9007199254740992",
    b"text/plain",
    b"application/json",
    b"garbage",
    b"text/plain; x=\xc3\xbc",
    b"2030-01-01T00:00:00Z",
    b"9999-12-31T23:59:59-23:59",
    b"1970-01-01T00:00:00Z",
    b"now",
    b"0000000000000000_0000000000000003",
    b"0000000000000000_9999999999999999",
    b"/s0",
    b"/j0",
    b"http://h/s1",
    b"https://h",
    b"\xff\xfe",
    b"\xc3\xbc",
    b"*",
    b"W/\"x\", *",
];
const HEADERS: &[&str] = &[
    "content-type",
    "stream-ttl",
    "stream-expires-at",
    "stream-seq",
    "stream-closed",
    "stream-forked-from",
    "stream-fork-offset",
    "stream-fork-sub-offset",
    "producer-id",
    "producer-epoch",
    "producer-seq",
    "if-none-match",
    "access-control-request-headers",
];
const METHODS: &[&str] = &[
    "GET", "GET", "GET", "HEAD", "PUT", "PUT", "POST", "POST", "POST", "POST", "DELETE", "OPTIONS",
    "PATCH",
];
const PATHS: &[&str] = &[
    "/s0", "/s0", "/s1", "/j0", "/j0", "/j1", "/f0", "/%FF", "/", "/%E2%82",
];
const QUERIES: &[&str] = &[
    "offset=-1",
    "offset=now",
    "offset=%",
    "offset=",
    "live=long-poll",
    "live=sse",
    "live=x",
    "cursor=18446744073709551615",
    "cursor=%FF",
    "&",
    "=",
    "offset=-1&offset=-1",
    "%zz=1",
];

fn pick(rng: &mut StdRng, xs: &[&str]) -> String {
    xs[rng.random_range(0..xs.len())].to_string()
}

fn random_body(rng: &mut StdRng) -> Vec<u8> {
    match rng.random_range(0..11) {
        0 => Vec::new(),
        1 => b"x".to_vec(),
        2 => "h\u{e9}llo\r\n".as_bytes().to_vec(),
        3 => vec![0xff, 0xfe, 0x0d],
        4 => br#"{"a":1}"#.to_vec(),
        5 => b"[1,\"two\",[3]]".to_vec(),
        6 => b"[]".to_vec(),
        7 => b"  \n".to_vec(),
        8 => b"[1,".to_vec(),
        9 => format!("{}{}", "[".repeat(400), "]".repeat(400)).into_bytes(),
        _ => vec![b'z'; 2000],
    }
}

type Generated = (String, String, Vec<(String, Vec<u8>)>, Vec<u8>);

/// Mostly a well-formed operation on a text (`/s*`) or JSON (`/j*`)
/// stream, then up to two random mutations. Offsets the server minted are
/// reused as values.
fn random_request(rng: &mut StdRng, minted: &[String]) -> Generated {
    let method = pick(rng, METHODS);
    let mut uri = pick(rng, PATHS);
    let json = uri.starts_with("/j");
    let ct: &[u8] = if json {
        b"application/json"
    } else {
        b"text/plain"
    };
    let minted_offset = |rng: &mut StdRng| match minted.len() {
        0 => "-1".to_string(),
        n => minted[rng.random_range(0..n)].clone(),
    };
    let mut headers: Vec<(String, Vec<u8>)> = Vec::new();
    let mut body = Vec::new();
    match method.as_str() {
        "PUT" if rng.random_bool(0.3) => {
            let from = pick(rng, &["/s0", "/j0", "/s1"]);
            headers.push(("stream-forked-from".into(), from.into_bytes()));
            if rng.random_bool(0.5) {
                let sub = pick(rng, &["0", "1", "2", "9"]);
                headers.push(("stream-fork-offset".into(), minted_offset(rng).into_bytes()));
                headers.push(("stream-fork-sub-offset".into(), sub.into_bytes()));
            }
        }
        "PUT" => headers.push(("content-type".into(), ct.to_vec())),
        "POST" => {
            headers.push(("content-type".into(), ct.to_vec()));
            body = if json {
                br#"[{"a":1},"b"]"#.to_vec()
            } else {
                "d\u{e9}j\u{e0}\r\n".as_bytes().to_vec()
            };
            if rng.random_bool(0.3) {
                headers.push(("producer-id".into(), b"p".to_vec()));
                headers.push(("producer-epoch".into(), pick(rng, &["0", "1"]).into_bytes()));
                headers.push((
                    "producer-seq".into(),
                    pick(rng, &["0", "1", "2"]).into_bytes(),
                ));
            }
            if rng.random_bool(0.1) {
                headers.push(("stream-closed".into(), b"true".to_vec()));
            }
        }
        "GET" => {
            let live = pick(rng, &["", "", "&live=long-poll", "&live=sse"]);
            let from = match rng.random_bool(0.5) {
                true => minted_offset(rng),
                false => pick(rng, &["-1", "now"]),
            };
            uri = format!("{uri}?offset={from}{live}");
        }
        _ => {}
    }
    for _ in 0..rng.random_range(0..3) {
        match rng.random_range(0..4) {
            0 => {
                let sep = if uri.contains('?') { '&' } else { '?' };
                uri = format!("{uri}{sep}{}", pick(rng, QUERIES));
            }
            1 => body = random_body(rng),
            _ => {
                let name = pick(rng, HEADERS);
                let value = match rng.random_bool(0.2) {
                    true => minted_offset(rng).into_bytes(),
                    false => VALUES[rng.random_range(0..VALUES.len())].to_vec(),
                };
                headers.retain(|(n, _)| *n != name);
                headers.push((name, value));
            }
        }
    }
    (method, uri, headers, body)
}

/// `count` seeded random requests, one at a time: none may get a 5xx, panic
/// or hang, and the server answers normally afterwards.
async fn random_requests(config: Config, seed: u64, count: usize) {
    let app = app(AppState::new(config).unwrap());
    let mut rng = StdRng::seed_from_u64(seed);
    let mut minted: Vec<String> = Vec::new();
    let mut successes = 0;
    for i in 0..count {
        let (method, uri, headers, body) = random_request(&mut rng, &minted);
        let h: Vec<(&str, &[u8])> = headers.iter().map(|(k, v)| (k.as_str(), &v[..])).collect();
        let r = send(&app, &method, &uri, &h, &body).await;
        assert!(
            !r.status.is_server_error(),
            "#{i} {method} {uri} {headers:?}: {}",
            r.status
        );
        successes += usize::from(r.status.is_success());
        if let Some(next) = r.h("stream-next-offset") {
            if !minted.iter().any(|m| m == next) {
                minted.push(next.to_string());
            }
        }
    }
    assert!(
        successes > count / 4,
        "too few requests got through: {successes}"
    );
    let r = send(&app, "PUT", "/after", &[TEXT], b"").await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = send(&app, "POST", "/after", &[TEXT], b"ok").await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = send(&app, "GET", "/after", &[], b"").await;
    assert_eq!((r.status, &r.body[..]), (StatusCode::OK, &b"ok"[..]));
}

#[tokio::test]
async fn random_requests_never_get_a_5xx() {
    random_requests(quick(), 0x5eed, 400).await;
}

#[tokio::test]
async fn random_requests_never_get_a_5xx_from_the_file_store() {
    let dir = TempDir::new("random");
    let config = Config {
        data_dir: Some(dir.0.clone()),
        ..quick()
    };
    random_requests(config, 0xd15c, 300).await;
}

/// Writers, readers, live readers, forks and deletes on the same paths at
/// once: every request ends, none with a 5xx.
async fn racing_requests(config: Config) {
    let app = app(AppState::new(config).unwrap());
    let mut tasks = Vec::new();
    for seed in 0..8 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let mut rng = StdRng::seed_from_u64(seed);
            for _ in 0..100 {
                let path = pick(&mut rng, &["/r0", "/r1", "/rf"]);
                let (method, uri, headers): (&str, String, Vec<(&str, &[u8])>) =
                    match rng.random_range(0..8) {
                        0 => ("PUT", path, vec![TEXT]),
                        1 => ("PUT", "/rf".into(), vec![("stream-forked-from", b"/r0")]),
                        2 => ("DELETE", path, vec![]),
                        3 => ("GET", format!("{path}?offset=now&live=long-poll"), vec![]),
                        4 => ("GET", format!("{path}?offset=-1&live=sse"), vec![]),
                        5 => ("GET", format!("{path}?offset=-1"), vec![]),
                        6 => ("POST", path, vec![TEXT, ("stream-closed", b"true")]),
                        _ => ("POST", path, vec![TEXT]),
                    };
                let r = send(&app, method, &uri, &headers, b"abc").await;
                assert!(!r.status.is_server_error(), "{method} {uri}: {}", r.status);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_requests_never_get_a_5xx() {
    racing_requests(quick()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_requests_never_get_a_5xx_from_the_file_store() {
    let dir = TempDir::new("race");
    racing_requests(Config {
        data_dir: Some(dir.0.clone()),
        ..quick()
    })
    .await;
}
