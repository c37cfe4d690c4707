//! In-process HTTP tests of the app (§5, §8, §9.1, §10.1, §12.7, §4.2).

use std::time::Duration;

use axum::http::StatusCode;
use axum::Router;
use ds_reference_server::{app, AppState, Config};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod common;
use common::{send, Res, JSON, TEXT};

fn test_app(config: Config) -> Router {
    app(AppState::new(config).unwrap())
}

fn quick() -> Config {
    Config {
        long_poll_timeout: Duration::from_millis(200),
        sse_max_duration: Duration::from_millis(500),
        ..Config::default()
    }
}

const CLOSE: (&str, &[u8]) = ("stream-closed", b"true");

fn assert_security_headers(r: &Res) {
    assert_eq!(
        r.h("x-content-type-options"),
        Some("nosniff"),
        "{}",
        r.status
    );
    assert_eq!(r.h("cross-origin-resource-policy"), Some("cross-origin"));
    assert_eq!(r.h("access-control-allow-origin"), Some("*"));
    let exposed = r
        .h("access-control-expose-headers")
        .unwrap()
        .to_ascii_lowercase();
    for name in [
        "stream-next-offset",
        "etag",
        "producer-expected-seq",
        "stream-sse-data-encoding",
    ] {
        assert!(exposed.contains(name), "{name} not exposed");
    }
}

#[tokio::test]
async fn security_and_cors_headers_on_every_response() {
    let app = test_app(quick());
    let r = send(&app, "GET", "/missing", &[], b"").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_security_headers(&r);
    let r = send(&app, "PATCH", "/x", &[], b"").await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_security_headers(&r);
    let r = send(
        &app,
        "OPTIONS",
        "/x",
        &[("access-control-request-method", b"POST")],
        b"",
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_security_headers(&r);
    let allowed = r
        .h("access-control-allow-headers")
        .unwrap()
        .to_ascii_lowercase();
    for name in [
        "if-none-match",
        "producer-id",
        "stream-fork-sub-offset",
        "stream-ttl",
        "authorization",
    ] {
        assert!(allowed.contains(name), "{name} not allowed");
    }
    send(&app, "PUT", "/s", &[TEXT], b"abc").await;
    let first = send(&app, "GET", "/s", &[], b"").await;
    let etag = first.h("etag").unwrap().as_bytes().to_vec();
    let r = send(&app, "GET", "/s", &[("if-none-match", &etag)], b"").await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    assert_security_headers(&r);
}

#[tokio::test]
async fn create_append_read_and_cache_validation() {
    let app = test_app(quick());
    let r = send(&app, "PUT", "/a/b", &[TEXT], b"hello").await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.h("location"), Some("http://example.test/a/b"));
    let created_tail = r.h("stream-next-offset").unwrap().to_string();
    assert_eq!(
        send(&app, "PUT", "/a/b", &[TEXT], b"").await.status,
        StatusCode::OK
    );
    assert_eq!(
        send(&app, "PUT", "/a/b", &[JSON], b"").await.status,
        StatusCode::CONFLICT
    );
    let r = send(
        &app,
        "POST",
        "/a/b",
        &[("content-type", b"TEXT/plain; charset=utf-8")],
        b" world",
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let tail = r.h("stream-next-offset").unwrap().to_string();
    assert!(tail > created_tail);

    let r = send(&app, "GET", "/a/b?offset=-1", &[], b"").await;
    assert_eq!(r.text(), "hello world");
    assert_eq!(r.h("stream-up-to-date"), Some("true"));
    assert_eq!(r.h("stream-next-offset"), Some(tail.as_str()));
    assert!(r.h("cache-control").unwrap().contains("max-age=60"));
    let open_etag = r.h("etag").unwrap().to_string();

    let r = send(
        &app,
        "GET",
        &format!("/a/b?offset={created_tail}"),
        &[],
        b"",
    )
    .await;
    assert_eq!(r.text(), " world");

    let r = send(&app, "GET", "/a/b?offset=now", &[], b"").await;
    assert_eq!((r.text(), r.h("etag")), ("", None));
    assert_eq!(r.h("cache-control"), Some("no-store"));

    send(&app, "POST", "/a/b", &[CLOSE], b"").await;
    let r = send(
        &app,
        "GET",
        "/a/b?offset=-1",
        &[("if-none-match", open_etag.as_bytes())],
        b"",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "closure changes the ETag");
    assert_eq!(r.h("stream-closed"), Some("true"));
    let head = send(&app, "HEAD", "/a/b", &[], b"").await;
    assert_eq!(head.h("stream-closed"), Some("true"));
    assert_eq!(head.h("cache-control"), Some("no-store"));
}

#[tokio::test]
async fn chunked_catch_up_marks_only_the_final_chunk() {
    let app = test_app(Config {
        max_chunk_bytes: 4,
        ..quick()
    });
    send(&app, "PUT", "/c", &[TEXT, CLOSE], b"0123456789").await;
    let mut offset = "-1".to_string();
    let mut seen = String::new();
    loop {
        let r = send(&app, "GET", &format!("/c?offset={offset}"), &[], b"").await;
        seen.push_str(r.text());
        offset = r.h("stream-next-offset").unwrap().to_string();
        if seen.len() < 10 {
            assert_eq!(r.body.len(), 4);
            assert_eq!(
                (r.h("stream-up-to-date"), r.h("stream-closed")),
                (None, None)
            );
        } else {
            assert_eq!(
                (r.h("stream-up-to-date"), r.h("stream-closed")),
                (Some("true"), Some("true"))
            );
            break;
        }
    }
    assert_eq!(seen, "0123456789");
}

#[tokio::test]
async fn json_mode_and_forks_read_as_one_array() {
    let app = test_app(quick());
    assert_eq!(
        send(&app, "PUT", "/j", &[JSON], b"[]").await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        send(&app, "POST", "/j", &[JSON], b"[]").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        send(&app, "POST", "/j", &[JSON], b"{oops").await.status,
        StatusCode::BAD_REQUEST
    );
    let r = send(&app, "POST", "/j", &[JSON], br#"[{"a":1},[2]]"#).await;
    let fork_at = r.h("stream-next-offset").unwrap().as_bytes().to_vec();
    send(&app, "POST", "/j", &[JSON], b"3").await;
    let r = send(
        &app,
        "PUT",
        "/jf",
        &[
            ("stream-forked-from", b"/j"),
            ("stream-fork-offset", &fork_at),
        ],
        b"",
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.h("content-type"), Some("application/json"));
    send(&app, "POST", "/jf", &[JSON], br#""own""#).await;
    assert_eq!(
        send(&app, "GET", "/jf?offset=-1", &[], b"").await.text(),
        r#"[{"a":1},[2],"own"]"#
    );
    assert_eq!(
        send(&app, "GET", "/j?offset=now", &[], b"").await.text(),
        "[]"
    );
}

#[tokio::test]
async fn producers_follow_the_validation_table() {
    let app = test_app(quick());
    send(&app, "PUT", "/p", &[TEXT], b"").await;
    let prod = |e: &'static [u8], s: &'static [u8]| -> [(&'static str, &'static [u8]); 4] {
        [
            TEXT,
            ("producer-id", b"w"),
            ("producer-epoch", e),
            ("producer-seq", s),
        ]
    };
    let r = send(&app, "POST", "/p", &prod(b"0", b"0"), b"a").await;
    assert_eq!((r.status, r.h("producer-seq")), (StatusCode::OK, Some("0")));
    assert_eq!(
        send(&app, "POST", "/p", &prod(b"0", b"1"), b"b")
            .await
            .status,
        StatusCode::OK
    );
    let r = send(&app, "POST", "/p", &prod(b"0", b"0"), b"a").await;
    assert_eq!(
        (r.status, r.h("producer-seq")),
        (StatusCode::NO_CONTENT, Some("1"))
    );
    let r = send(&app, "POST", "/p", &prod(b"0", b"5"), b"x").await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(
        (r.h("producer-expected-seq"), r.h("producer-received-seq")),
        (Some("2"), Some("5"))
    );
    assert_eq!(
        send(&app, "POST", "/p", &prod(b"1", b"1"), b"x")
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        send(&app, "POST", "/p", &prod(b"1", b"0"), b"c")
            .await
            .status,
        StatusCode::OK
    );
    let r = send(&app, "POST", "/p", &prod(b"0", b"2"), b"x").await;
    assert_eq!(
        (r.status, r.h("producer-epoch")),
        (StatusCode::FORBIDDEN, Some("1"))
    );
    for bad in [&b"01"[..], b"-1", b"9007199254740992", b"1.0"] {
        let h = [
            TEXT,
            ("producer-id", b"w"),
            ("producer-epoch", bad),
            ("producer-seq", b"0"),
        ];
        assert_eq!(
            send(&app, "POST", "/p", &h, b"x").await.status,
            StatusCode::BAD_REQUEST
        );
    }
    assert_eq!(
        send(&app, "POST", "/p", &[TEXT, ("producer-id", b"w")], b"x")
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(send(&app, "GET", "/p", &[], b"").await.text(), "abc");
}

#[tokio::test]
async fn closed_streams_and_error_precedence() {
    let app = test_app(quick());
    send(&app, "PUT", "/c", &[TEXT], b"x").await;
    let r = send(
        &app,
        "POST",
        "/c",
        &[TEXT, CLOSE, ("stream-seq", b"5")],
        b"y",
    )
    .await;
    assert_eq!(
        (r.status, r.h("stream-closed")),
        (StatusCode::NO_CONTENT, Some("true"))
    );
    let tail = r.h("stream-next-offset").unwrap().to_string();
    let r = send(&app, "POST", "/c", &[JSON, ("stream-seq", b"1")], b"1").await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(
        (r.h("stream-closed"), r.h("stream-next-offset")),
        (Some("true"), Some(tail.as_str()))
    );
    let r = send(&app, "POST", "/c", &[CLOSE], b"").await;
    assert_eq!(
        (r.status, r.h("stream-closed")),
        (StatusCode::NO_CONTENT, Some("true"))
    );
    assert_eq!(
        send(&app, "POST", "/c", &[("stream-closed", b"yes")], b"")
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        send(&app, "PUT", "/c", &[TEXT], b"").await.status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        send(&app, "PUT", "/c", &[TEXT, CLOSE], b"").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn bad_input_is_a_4xx() {
    let app = test_app(Config {
        max_body_bytes: 8,
        ..quick()
    });
    send(&app, "PUT", "/b", &[TEXT], b"").await;
    for (method, uri, headers, body) in [
        ("PUT", "/n", vec![("stream-ttl", &b"\xff"[..])], &b""[..]),
        (
            "PUT",
            "/n",
            vec![
                ("stream-ttl", b"1"),
                ("stream-expires-at", b"2030-01-01T00:00:00Z"),
            ],
            b"",
        ),
        ("PUT", "/n", vec![("stream-expires-at", b"soon")], b""),
        ("PUT", "/n", vec![("content-type", b"nonsense")], b""),
        (
            "PUT",
            "/n",
            vec![("stream-fork-offset", b"0000000000000000_0000000000000000")],
            b"",
        ),
        ("GET", "/b?offset=abc", vec![], b""),
        (
            "GET",
            "/b?offset=0000000000000000_0000000000000001",
            vec![],
            b"",
        ),
        ("GET", "/b?live=long-poll", vec![], b""),
        ("GET", "/b?live=sse", vec![], b""),
        ("POST", "/b", vec![TEXT], b""),
        ("POST", "/b", vec![], b"data"),
        ("POST", "/b", vec![TEXT, ("producer-id", b"\xfe")], b"data"),
    ] {
        let r = send(&app, method, uri, &headers, body).await;
        assert_eq!(
            r.status,
            StatusCode::BAD_REQUEST,
            "{method} {uri} {headers:?}"
        );
        assert!(!r.body.is_empty());
    }
    let r = send(&app, "POST", "/b", &[TEXT], b"123456789").await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn long_poll_waits_wakes_and_times_out() {
    let app = test_app(quick());
    let r = send(&app, "PUT", "/l", &[TEXT], b"").await;
    let tail = r.h("stream-next-offset").unwrap().to_string();
    let r = send(
        &app,
        "GET",
        &format!("/l?offset={tail}&live=long-poll"),
        &[],
        b"",
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(r.h("stream-up-to-date"), Some("true"));
    let cursor = r.h("stream-cursor").unwrap().to_string();
    let r = send(
        &app,
        "GET",
        &format!("/l?offset=now&live=long-poll&cursor={cursor}"),
        &[],
        b"",
    )
    .await;
    assert!(r.h("stream-cursor").unwrap().parse::<u64>().unwrap() > cursor.parse::<u64>().unwrap());

    let writer = app.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        send(&writer, "POST", "/l", &[TEXT], b"new").await;
    });
    let r = send(&app, "GET", "/l?offset=now&live=long-poll", &[], b"").await;
    assert_eq!((r.status, r.text()), (StatusCode::OK, "new"));
    assert!(r.h("stream-cursor").is_some());

    send(&app, "POST", "/l", &[CLOSE], b"").await;
    let started = std::time::Instant::now();
    let r = send(&app, "GET", "/l?offset=now&live=long-poll", &[], b"").await;
    assert_eq!(
        (r.status, r.h("stream-closed")),
        (StatusCode::NO_CONTENT, Some("true"))
    );
    assert!(started.elapsed() < Duration::from_millis(150));
}

#[tokio::test]
async fn fork_waiters_ignore_source_appends() {
    let app = test_app(quick());
    send(&app, "PUT", "/src", &[TEXT], b"old").await;
    let r = send(
        &app,
        "PUT",
        "/fork",
        &[("stream-forked-from", b"/src")],
        b"",
    )
    .await;
    let tail = r.h("stream-next-offset").unwrap().to_string();
    let r = send(&app, "GET", "/fork?offset=-1&live=long-poll", &[], b"").await;
    assert_eq!(
        (r.status, r.text()),
        (StatusCode::OK, "old"),
        "inherited data at once"
    );
    let writer = app.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(30)).await;
        send(&writer, "POST", "/src", &[TEXT], b"source-only").await;
    });
    let r = send(
        &app,
        "GET",
        &format!("/fork?offset={tail}&live=long-poll"),
        &[],
        b"",
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        send(&app, "DELETE", "/src", &[], b"").await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        send(&app, "GET", "/src", &[], b"").await.status,
        StatusCode::GONE
    );
    assert_eq!(
        send(&app, "PUT", "/src", &[TEXT], b"").await.status,
        StatusCode::CONFLICT
    );
    assert_eq!(send(&app, "GET", "/fork", &[], b"").await.text(), "old");
}

#[tokio::test]
async fn sse_frames_payloads_exactly_and_closes() {
    let app = test_app(quick());
    send(&app, "PUT", "/t", &[TEXT, CLOSE], b" lead\r\nx\rnext\n").await;
    let r = send(&app, "GET", "/t?offset=-1&live=sse", &[], b"").await;
    assert_eq!(r.h("content-type"), Some("text/event-stream"));
    let text = r.text();
    assert!(
        text.starts_with("event: data\ndata:  lead\ndata:x\ndata:next\ndata:\n\n"),
        "{text:?}"
    );
    assert!(text.contains("\"streamClosed\":true"));
    assert!(!text.contains("streamCursor"));

    send(
        &app,
        "PUT",
        "/bin",
        &[("content-type", b"application/octet-stream"), CLOSE],
        &[0, 255, 10],
    )
    .await;
    let r = send(&app, "GET", "/bin?offset=-1&live=sse", &[], b"").await;
    assert_eq!(r.h("stream-sse-data-encoding"), Some("base64"));
    assert!(r.text().contains("data:AP8K\n"));

    send(&app, "PUT", "/open", &[TEXT], b"").await;
    let r = send(&app, "GET", "/open?offset=now&live=sse", &[], b"").await;
    assert!(r.text().starts_with("event: control\ndata:{"));
    assert!(
        r.text().contains("\"upToDate\":true"),
        "connection ends after sse_max_duration"
    );
}

#[tokio::test]
async fn spawn_serves_and_shuts_down() {
    let server = ds_reference_server::spawn(quick()).await.unwrap();
    assert!(server.url.starts_with("http://127.0.0.1:"));
    let mut conn = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    conn.write_all(b"GET /nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = String::new();
    conn.read_to_string(&mut out).await.unwrap();
    assert!(out.starts_with("HTTP/1.1 404"), "{out}");
    tokio::time::timeout(Duration::from_secs(3), server.shutdown())
        .await
        .unwrap();
}

#[tokio::test]
async fn shutdown_ends_open_long_polls() {
    let server = ds_reference_server::spawn(Config {
        long_poll_timeout: Duration::from_secs(30),
        ..Config::default()
    })
    .await
    .unwrap();
    let mut conn = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    conn.write_all(b"PUT /w HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = conn.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 201"));
    conn.write_all(b"GET /w?offset=now&live=long-poll HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    tokio::time::timeout(Duration::from_secs(3), server.shutdown())
        .await
        .expect("shutdown is not held up by a 30 s long-poll");
    let n = conn.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 204"));
}
