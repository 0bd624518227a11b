//! The Python runtime (src/python) with real `python3` workers: the seed's samples as written
//! (conn and URLs pointed at a local server), call-backs into the real utility registry, faults
//! that must fail only their own call, validation at the exact line:column, and (ignored) the
//! overhead figures. Fixtures are in tests/python/.

use codeless::commands::{Args, Implementation, Lifecycle, ParamType, Registry, UtilityContext};
use codeless::files::FileStore;
use codeless::output::{OutputModel, Status};
use codeless::python::{
    positional_args, validate_scripts, Host, HostFuture, HttpReply, HttpRequest, IntegrationCall,
    Isolation, PyArg, PythonCall, PythonConfig, PythonError, PythonOutcome, PythonRuntime, Script,
    ScriptCheck, ScriptOwner, UtilityCall,
};
use codeless::run::invoke::{build_calls, Calls};
use codeless::secrets::Secrets;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SECRET: &str = "sk-live-0123456789abcdef";

fn fixture(name: &str) -> String {
    let p = format!("{}/tests/python/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn script(name: &str, server: &str) -> Arc<Script> {
    Script::new(
        format!("tests/python/{name}"),
        fixture(name).replace("{{SERVER}}", server),
        Lifecycle::Live,
        ScriptOwner::Integration("My SIEM".into()),
    )
}

fn runtime_with(f: impl FnOnce(&mut PythonConfig)) -> PythonRuntime {
    let mut config = PythonConfig {
        pool_size: 2,
        spares: 1,
        ..PythonConfig::default()
    };
    f(&mut config);
    PythonRuntime::new(config).unwrap_or_else(|e| panic!("{e}"))
}

fn runtime() -> PythonRuntime {
    runtime_with(|_| {})
}

/// The engine's side, for tests: utilities from the real registry (arguments mapped and coerced
/// as the engine does), `conn.sendRequest` against `base_url`, D3.Integration call-backs run
/// through the same runtime, logs kept.
struct TestHost {
    registry: Registry,
    files: FileStore,
    _files_dir: tempfile::TempDir,
    base_url: String,
    client: reqwest::Client,
    logs: Mutex<Vec<(Instant, String)>>,
    nested: Mutex<Option<(PythonRuntime, Arc<Script>)>>,
}

impl TestHost {
    fn new(base_url: &str) -> TestHost {
        let dir = tempfile::tempdir().unwrap();
        TestHost {
            registry: Registry::builtin(),
            files: FileStore::new(dir.path().join("files")),
            _files_dir: dir,
            base_url: base_url.trim_end_matches('/').to_owned(),
            client: {
                let _ = rustls::crypto::ring::default_provider().install_default();
                reqwest::Client::new()
            },
            logs: Mutex::new(Vec::new()),
            nested: Mutex::new(None),
        }
    }

    fn logs(&self) -> Vec<String> {
        self.logs
            .lock()
            .unwrap()
            .iter()
            .map(|(_, t)| t.clone())
            .collect()
    }

    fn run_utility(&self, call: UtilityCall) -> Result<Value, String> {
        let cmd = self
            .registry
            .get(&call.name)
            .ok_or_else(|| format!("no utility command `{}`", call.name))?;
        let named = positional_args(&cmd.spec, call.args, call.named)?;
        let Calls::One(args) = build_calls(cmd, named, 100)? else {
            return Err("a list given to a single-value parameter".into());
        };
        let ctx = UtilityContext {
            files: &self.files,
            now: chrono::Utc::now(),
            query_budget: codeless::jsonpath::Budget::default(),
        };
        match &cmd.implementation {
            Implementation::Utility(f) => f(&Args::new(args), &ctx),
            _ => Err("not a synchronous utility".into()),
        }
    }

    async fn run_request(&self, r: HttpRequest) -> HttpReply {
        let url = if r.path.starts_with("http") {
            r.path.clone()
        } else {
            format!("{}/{}", self.base_url, r.path.trim_start_matches('/'))
        };
        let mut query: Vec<(String, String)> = Vec::new();
        if let Value::Object(m) = &r.params {
            for (k, v) in m {
                match v {
                    Value::Null => {}
                    Value::String(s) => query.push((k.clone(), s.clone())),
                    other => query.push((k.clone(), other.to_string())),
                }
            }
        }
        let method = reqwest::Method::from_bytes(r.method.as_bytes()).unwrap();
        let mut req = self.client.request(method, &url).query(&query);
        if !r.json.is_null() {
            req = req
                .header("content-type", "application/json")
                .body(r.json.to_string());
        }
        match req.send().await {
            Ok(resp) => {
                let status = resp.status();
                let text = resp.text().await.unwrap_or_default();
                let body = serde_json::from_str(&text).unwrap_or(Value::String(text.clone()));
                let error = (!status.is_success())
                    .then(|| format!("Status Code: {}. Message: {text}", status.as_u16()));
                HttpReply { body, error }
            }
            Err(e) => HttpReply {
                body: Value::Null,
                error: Some(e.to_string()),
            },
        }
    }
}

impl Host for TestHost {
    fn log(&self, text: &str) {
        self.logs
            .lock()
            .unwrap()
            .push((Instant::now(), text.to_owned()));
    }

    fn utility<'a>(&'a self, call: UtilityCall) -> HostFuture<'a, Result<Value, String>> {
        Box::pin(async move { self.run_utility(call) })
    }

    fn integration<'a>(
        &'a self,
        call: IntegrationCall,
    ) -> HostFuture<'a, Result<OutputModel, String>> {
        Box::pin(async move {
            let Some((rt, script)) = self.nested.lock().unwrap().clone() else {
                return Err("no integration here".into());
            };
            let secrets = Secrets::default();
            let r = rt
                .call(PythonCall {
                    script: &script,
                    function: &call.command,
                    display: &call.command,
                    args: Vec::new(),
                    connector: json!({}),
                    retrycount: 0,
                    timeout: Some(Duration::from_secs(20)),
                    secrets: &secrets,
                    host: self,
                    nested: true,
                })
                .await;
            Ok(match r {
                Ok(o) => o.output,
                Err(e) => e.output_model(&call.command),
            })
        })
    }

    fn send_request<'a>(&'a self, request: HttpRequest) -> HostFuture<'a, HttpReply> {
        Box::pin(self.run_request(request))
    }
}

fn secrets() -> Secrets {
    let mut s = Secrets::default();
    s.add(SECRET);
    s
}

struct Call<'a> {
    function: &'a str,
    args: Vec<PyArg>,
    retrycount: u32,
    timeout: Option<Duration>,
}

fn call(function: &str) -> Call<'_> {
    Call {
        function,
        args: Vec::new(),
        retrycount: 0,
        timeout: Some(Duration::from_secs(30)),
    }
}

impl Call<'_> {
    fn arg(mut self, name: &str, ty: ParamType, value: Value) -> Self {
        self.args.push(PyArg {
            name: name.into(),
            ty,
            value,
        });
        self
    }

    async fn run(
        self,
        rt: &PythonRuntime,
        script: &Arc<Script>,
        host: &TestHost,
    ) -> Result<PythonOutcome, PythonError> {
        let secrets = secrets();
        rt.call(PythonCall {
            script,
            function: self.function,
            display: self.function,
            args: self.args,
            connector: json!({"serverurl": host.base_url, "apikey": SECRET}),
            retrycount: self.retrycount,
            timeout: self.timeout,
            secrets: &secrets,
            host,
            nested: false,
        })
        .await
    }
}

fn fetch_event_args(start: &str, end: &str, top: i64, tolerance: i64) -> Vec<PyArg> {
    let a = |name: &str, ty, value| PyArg {
        name: String::from(name),
        ty,
        value,
    };
    vec![
        a("start_time", ParamType::Datetime, json!(start)),
        a("end_time", ParamType::Datetime, json!(end)),
        a("top_recent_event_number", ParamType::Number, json!(top)),
        a("search_condition", ParamType::Text, json!("severity:high")),
        a("tolerance_scope", ParamType::Number, json!(tolerance)),
    ]
}

async fn events_server(status: u16, body: Value) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(&server)
        .await;
    server
}

async fn received_query(server: &MockServer) -> (String, Vec<(String, String)>) {
    let reqs = server.received_requests().await.unwrap();
    let r = reqs.last().unwrap();
    (
        r.url.path().to_owned(),
        r.url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect(),
    )
}

// ---- the seed's samples -----------------------------------------------------------------------

#[tokio::test]
async fn seed_fetch_event_runs_as_written() {
    let server = events_server(200, json!({"results": [{"id": 1}, {"id": 2}, {"id": 3}]})).await;
    let host = TestHost::new(&server.uri());
    let rt = runtime();
    let s = script("my_siem.py", &server.uri());
    let mut c = call("fetchEvent");
    c.args = fetch_event_args("2024-01-01 00:00:00", "2024-01-01T01:00:00Z", 2, 0);
    let out = c.run(&rt, &s, &host).await.unwrap();
    // The seed reuses `returnData` for the response body, so the body (cut to the top 2) is the
    // returnData; no tolerance scope, so no passdown.
    assert_eq!(out.retry, None);
    assert_eq!(out.output.status, Status::Successful);
    assert_eq!(out.output.error, None);
    assert_eq!(
        out.output.return_data,
        json!({"results": [{"id": 1}, {"id": 2}]})
    );
    assert_eq!(
        out.output.result,
        json!({"Start Time (UTC)": "2024-01-01 00:00:00", "End Time (UTC)": "2024-01-01 01:00:00", "Events Count": 2})
    );
    assert_eq!(out.output.passdown, Value::Null);
    let (p, q) = received_query(&server).await;
    assert_eq!(p, "/REST%20endpoint%20path");
    assert_eq!(
        q,
        [
            ("startDate".to_owned(), "2024-01-01 00:00:00".to_owned()),
            ("endDate".to_owned(), "2024-01-01 01:00:00".to_owned()),
            ("filter".to_owned(), "severity:high".to_owned()),
        ]
    );
}

#[tokio::test]
async fn seed_fetch_event_empty_datetimes_are_1900_and_left_out() {
    let server = events_server(200, json!({"results": []})).await;
    let host = TestHost::new(&server.uri());
    let rt = runtime();
    let s = script("my_siem.py", &server.uri());
    let mut c = call("fetchEvent");
    c.args = fetch_event_args("", "", 0, 0);
    c.args[0].value = Value::Null;
    let out = c.run(&rt, &s, &host).await.unwrap();
    assert_eq!(
        out.output.return_data,
        json!("Successful with No Event Data")
    );
    assert_eq!(out.output.status, Status::Successful);
    let (_, q) = received_query(&server).await;
    assert_eq!(q, [("filter".to_owned(), "severity:high".to_owned())]);
}

#[tokio::test]
async fn seed_fetch_event_own_bug_fails_its_command_with_a_tolerance_scope() {
    let server = events_server(200, json!({"results": []})).await;
    let host = TestHost::new(&server.uri());
    let rt = runtime();
    let s = script("my_siem.py", &server.uri());
    let mut c = call("fetchEvent");
    c.args = fetch_event_args("2024-01-01 00:00:00", "2024-01-01 01:00:00", 0, 5);
    let out = c.run(&rt, &s, &host).await.unwrap();
    assert_eq!(out.output.status, Status::Failed);
    assert_eq!(out.output.return_data, json!("Failed"));
    assert_eq!(
        out.output.error.unwrap().render(),
        r#"fetchEvent failed. Message: ["can't compare offset-naive and offset-aware datetimes"]"#
    );
}

#[tokio::test]
async fn fetch_event_passes_down_the_next_start_time() {
    let server = events_server(200, json!({"results": [{"id": 7}]})).await;
    let host = TestHost::new(&server.uri());
    let rt = runtime();
    let s = script("my_siem_fixed.py", &server.uri());
    let mut c = call("fetchEvent");
    c.args = fetch_event_args("2024-01-01 00:00:00", "2024-01-01 01:00:00", 0, 5);
    let out = c.run(&rt, &s, &host).await.unwrap();
    assert_eq!(out.output.status, Status::Successful);
    assert_eq!(
        out.output.passdown,
        json!({"StartTime": "2024-01-01 01:00:00"})
    );
    assert_eq!(out.output.result["Events Count"], json!(1));
    let (_, q) = received_query(&server).await;
    assert_eq!(
        q[0],
        ("startDate".to_owned(), "2023-12-31 23:55:00".to_owned())
    );
}

#[tokio::test]
async fn fetch_event_with_a_failed_request_fails_with_the_status() {
    let server = events_server(500, json!({"message": "down"})).await;
    let host = TestHost::new(&server.uri());
    let rt = runtime();
    let s = script("my_siem.py", &server.uri());
    let mut c = call("fetchEvent");
    c.args = fetch_event_args("2024-01-01 00:00:00", "2024-01-01 01:00:00", 0, 0);
    let out = c.run(&rt, &s, &host).await.unwrap();
    assert_eq!(out.output.status, Status::Failed);
    let message = out.output.error.unwrap().message;
    // The request's error, then the seed's own slip (caseItems is unset when the request fails).
    assert!(
        message.starts_with(r#"["Status Code: 500. Message: {\"message\":\"down\"}","#),
        "{message}"
    );
    assert!(message.contains("caseItems"), "{message}");
}

#[tokio::test]
async fn partially_successful_when_some_requests_fail() {
    let server = MockServer::start().await;
    Mock::given(path("/events/2"))
        .respond_with(ResponseTemplate::new(404).set_body_string("no event 2"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "ok"})))
        .mount(&server)
        .await;
    let host = TestHost::new(&server.uri());
    let rt = runtime();
    let s = script("partial.py", &server.uri());
    let out = call("fetchEvents")
        .arg("event_ids", ParamType::JsonArray, json!([1, 2, 3]))
        .run(&rt, &s, &host)
        .await
        .unwrap();
    assert_eq!(out.output.status, Status::PartiallySuccessful);
    assert_eq!(out.output.error, None);
    assert_eq!(out.output.result, json!("2 of 3 events fetched"));
    assert_eq!(
        out.output.raw_data,
        json!({"results": [{"id": "ok"}, {"id": "ok"}], "errorMessages": ["Status Code: 404. Message: no event 2"]})
    );
}

/// Whether the interpreter has the requests package (the seed's TestConnection uses it).
fn has_requests(rt: &PythonRuntime) -> bool {
    std::process::Command::new(&rt.interpreter().program)
        .args(["-I", "-c", "import requests"])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[tokio::test]
async fn seed_test_connection_passes_and_fails() {
    let up = events_server(200, json!({"ip": "203.0.113.9"})).await;
    let down = events_server(503, json!({})).await;
    let rt = runtime();
    let host = TestHost::new(&up.uri());
    if !has_requests(&rt) {
        // Without the package the sample fails with a message saying what to install.
        let e = call("TestConnection")
            .run(&rt, &script("my_siem.py", &up.uri()), &host)
            .await
            .unwrap()
            .output
            .error
            .unwrap()
            .message;
        assert!(
            e.starts_with("the requests package is not installed for "),
            "{e}"
        );
        return;
    }

    let out = call("TestConnection")
        .run(&rt, &script("my_siem.py", &up.uri()), &host)
        .await
        .unwrap();
    assert_eq!(out.output.status, Status::Successful);
    assert_eq!(out.output.return_data, json!("Successful"));
    assert_eq!(out.output.raw_data, json!({"ip": "203.0.113.9"}));

    let out = call("TestConnection")
        .run(&rt, &script("my_siem.py", &down.uri()), &host)
        .await
        .unwrap();
    assert_eq!(out.output.status, Status::Failed);
    assert_eq!(
        out.output.error.unwrap().render(),
        "TestConnection failed. Message: cannot connect to the site."
    );

    // Nothing listens there: requests raises, the sample returns its text as the error.
    let closed = format!("http://127.0.0.1:{}", free_port());
    let out = call("TestConnection")
        .run(&rt, &script("my_siem.py", &closed), &host)
        .await
        .unwrap();
    assert_eq!(out.output.status, Status::Failed);
    let e = out.output.error.unwrap().message;
    assert!(e.contains("Connection refused"), "{e}");
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[tokio::test]
async fn seed_retry_sample_asks_for_a_retry_until_its_tenth() {
    let rt = runtime();
    let host = TestHost::new("http://127.0.0.1:9");
    let s = script("my_siem.py", "");
    let mut c = call("retrySample");
    c.retrycount = 3;
    let out = c.run(&rt, &s, &host).await.unwrap();
    assert_eq!(out.retry, Some(vec![10.0, 20.0, 30.0, 40.0]));
    assert_eq!(
        out.output.return_data,
        json!({"__ACTION__": "__RETRY__", "__DELAY__": [10, 20, 30, 40]})
    );
    let mut c = call("retrySample");
    c.retrycount = 10;
    let out = c.run(&rt, &s, &host).await.unwrap();
    assert_eq!(out.retry, None);
    // "Failed" with no errors is not a failure (the seed's rule).
    assert_eq!(out.output.return_data, json!("Failed"));
    assert_eq!(out.output.status, Status::Successful);
}

#[tokio::test]
async fn retry_marker_comes_only_from_the_script_return() {
    // A utility's result (data) that looks like the marker, returned inside another value, is no
    // retry; only the returned returnData is.
    let rt = runtime();
    let host = TestHost::new("http://127.0.0.1:9");
    let s = Script::new(
        "inline.py",
        "def Nested():\n    return {'wrapped': {'__ACTION__': '__RETRY__'}}\n\
         def FromData():\n    return pb.returnOutputModel('', json.loads(D3.Utility.concatToRear<Text>('{\"__ACTION__\": ', '\"__RETRY__\"}')), '', '', '', '')\n",
        Lifecycle::Live,
        ScriptOwner::Utility,
    );
    let out = call("Nested").run(&rt, &s, &host).await.unwrap();
    assert_eq!(out.retry, None);
    // The script itself chose to return the object as its returnData: it is the producer.
    let out = call("FromData").run(&rt, &s, &host).await.unwrap();
    assert_eq!(out.retry, Some(vec![]));
}

#[tokio::test]
async fn seed_utility_calls_reach_the_registry() {
    let rt = runtime();
    let host = TestHost::new("http://127.0.0.1:9");
    let s = script("utility_calls.py", "");
    let out = call("utilityCommandCalls")
        .run(&rt, &s, &host)
        .await
        .unwrap();
    assert_eq!(out.output.return_data, json!("Join Text"));
    assert_eq!(out.output.status, Status::Successful);

    let out = call("seedTable").run(&rt, &s, &host).await.unwrap();
    let v = out.output.return_data;
    assert_eq!(v["equals"], json!(true));
    assert_eq!(v["contains"], json!(true));
    assert_eq!(v["greaterThan"], json!(false));
    assert_eq!(
        v["extract"],
        json!({"IPAddress": "10.0.0.1", "RiskLevel": "Low"})
    );
    let now = v["now"].as_str().unwrap();
    assert!(
        regex::Regex::new(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
            .unwrap()
            .is_match(now),
        "{now}"
    );

    let out = call("typedFirstArgument")
        .run(&rt, &s, &host)
        .await
        .unwrap();
    assert_eq!(
        out.output.return_data,
        json!(["5x", "2024-01-02 03:04:05!"])
    );
    let out = call("withoutTypeAndByName")
        .run(&rt, &s, &host)
        .await
        .unwrap();
    assert_eq!(out.output.return_data, json!("ab"));
    let out = call("failingUtility").run(&rt, &s, &host).await.unwrap();
    assert_eq!(
        out.output.return_data,
        json!("APIError: parameter `input1`: expected a number, got the text \"many\" (value: \"many\")")
    );
}

#[tokio::test]
async fn integration_call_backs_reach_only_the_own_integration() {
    let server = events_server(200, json!({"ip": "198.51.100.1"})).await;
    // One worker: the nested call takes no pool slot, so its caller's does not block it.
    let rt = runtime_with(|c| c.pool_size = 1);
    let host = TestHost::new(&server.uri());
    let own = Script::new(
        "tests/python/nested.py",
        "def TestConnection():\n    body, error = conn.sendRequest('GET', '/')\n    \
         return pb.returnOutputModel('', 'Successful' if not error else 'Failed', '', '', body, error or '')\n",
        Lifecycle::Live,
        ScriptOwner::Integration("My SIEM".into()),
    );
    *host.nested.lock().unwrap() = Some((rt.clone(), own));
    let s = script("utility_calls.py", "");
    let out = call("callsOwnIntegration")
        .run(&rt, &s, &host)
        .await
        .unwrap();
    assert_eq!(out.output.return_data, json!("Successful"));
    assert_eq!(out.output.raw_data, json!({"ip": "198.51.100.1"}));
    assert_eq!(
        rt.live_workers(),
        1,
        "the nested call's worker was not retired"
    );

    let e = call("callsOtherIntegration")
        .run(&rt, &s, &host)
        .await
        .unwrap_err();
    assert!(
        e.to_string().starts_with("APIError: a script calls only its own integration's commands: `ChatGPT` is not `My SIEM`\nTraceback (most recent call last):\n  File \"tests/python/utility_calls.py\", line 40, in callsOtherIntegration"),
        "{e}"
    );

    // A utility script calls no integration and has no connection.
    let u = Script::new(
        "u.py",
        "def A():\n    return D3.Integration.MySIEM.TestConnection()\ndef B():\n    return conn.sendRequest('GET', '/')\n",
        Lifecycle::Live,
        ScriptOwner::Utility,
    );
    let e = call("A").run(&rt, &u, &host).await.unwrap_err().to_string();
    assert!(
        e.starts_with("APIError: a utility script cannot call integration commands (D3.Integration.MySIEM...)"),
        "{e}"
    );
    let e = call("B").run(&rt, &u, &host).await.unwrap_err().to_string();
    assert!(
        e.starts_with("APIError: conn.sendRequest is available in integration scripts only; this is a utility script"),
        "{e}"
    );
}

#[tokio::test]
async fn logs_arrive_masked_escaped_and_while_the_call_runs() {
    let rt = runtime();
    let host = TestHost::new("http://127.0.0.1:9");
    let s = script("faults.py", "");
    let out = call("Logs").run(&rt, &s, &host).await.unwrap();
    assert_eq!(out.output.return_data, json!("logged"));
    assert_eq!(
        host.logs(),
        [
            "from pb.log with the key *****",
            "from print \\u{1b}[31mred\\u{1b}[0m",
            "from stderr",
            "no newline yet",
        ]
    );

    let s = Script::new(
        "slow.py",
        "def Slow():\n    pb.log('first')\n    time.sleep(0.6)\n    return 'done'\n",
        Lifecycle::Live,
        ScriptOwner::Utility,
    );
    let host = TestHost::new("http://127.0.0.1:9");
    call("Slow").run(&rt, &s, &host).await.unwrap();
    let returned = Instant::now();
    let logged = host.logs.lock().unwrap()[0].0;
    assert!(
        returned.duration_since(logged) >= Duration::from_millis(400),
        "the log came {:?} before the end",
        returned.duration_since(logged)
    );
}

#[tokio::test]
async fn inputs_arrive_in_declaration_order_with_their_types() {
    let rt = runtime();
    let host = TestHost::new("http://127.0.0.1:9");
    let s = Script::new(
        "types.py",
        "def Types(when, count, ratio, flag, obj, names, text):\n    \
         return [type(when).__name__, when.tzinfo is None, str(when), type(count).__name__, \
         type(ratio).__name__, flag, obj, names, text, list(input), len(args)]\n",
        Lifecycle::Live,
        ScriptOwner::Utility,
    );
    let out = call("Types")
        .arg(
            "when",
            ParamType::Datetime,
            json!("2024-03-04T05:06:07+01:00"),
        )
        .arg("count", ParamType::Number, json!(3.0))
        .arg("ratio", ParamType::Number, json!(0.5))
        .arg("flag", ParamType::Boolean, json!(true))
        .arg("obj", ParamType::JsonObject, json!({"a": [1]}))
        .arg("names", ParamType::TextArray, json!(["x", "y"]))
        .arg("text", ParamType::Text, json!("ünïcode"))
        .run(&rt, &s, &host)
        .await
        .unwrap();
    assert_eq!(
        out.output.return_data,
        json!([
            "datetime", true, "2024-03-04 04:06:07", "int", "float", true, {"a": [1]}, ["x", "y"],
            "ünïcode", ["when", "count", "ratio", "flag", "obj", "names", "text"], 7
        ])
    );
    let e = call("Types")
        .arg("when", ParamType::Datetime, json!("not a time"))
        .run(&rt, &s, &host)
        .await
        .unwrap_err();
    assert_eq!(
        e,
        PythonError::Input(
            "parameter `when` is not a date/time: \"not a time\" (expected e.g. 2026-01-02 03:04:05)"
                .into()
        )
    );
}

#[tokio::test]
async fn the_prelude_is_there_without_imports() {
    let rt = runtime();
    let host = TestHost::new("http://127.0.0.1:9");
    let s = Script::new(
        "prelude.py",
        "import pytz as explicit\n\
         def Prelude():\n    \
         return [datetime(2024, 1, 1, tzinfo=pytz.utc).isoformat(), str(timedelta(hours=1)), \
         timezone.utc is pytz.utc, json.dumps({'a': 1}), bool(re.match('a', 'a')), \
         time.time() > 0, 'requests' in globals(), explicit.utc is pytz.utc, \
         type(pb).__name__, issubclass(HTTPAPIError, APIError), __name__]\n",
        Lifecycle::Live,
        ScriptOwner::Utility,
    );
    let out = call("Prelude").run(&rt, &s, &host).await.unwrap();
    assert_eq!(
        out.output.return_data,
        json!([
            "2024-01-01T00:00:00+00:00",
            "1:00:00",
            true,
            "{\"a\": 1}",
            true,
            true,
            true,
            true,
            "PlaybookRunTime",
            true,
            "prelude"
        ])
    );
}

#[tokio::test]
async fn each_call_gets_a_fresh_module_and_warm_workers_are_reused() {
    let rt = runtime_with(|c| c.pool_size = 1);
    let host = TestHost::new("http://127.0.0.1:9");
    let s = Script::new(
        "state.py",
        "counter = []\ndef Count():\n    counter.append(1)\n    import os\n    return [len(counter), os.getpid()]\n",
        Lifecycle::Live,
        ScriptOwner::Utility,
    );
    let a = call("Count")
        .run(&rt, &s, &host)
        .await
        .unwrap()
        .output
        .return_data;
    let b = call("Count")
        .run(&rt, &s, &host)
        .await
        .unwrap()
        .output
        .return_data;
    assert_eq!(a[0], json!(1));
    assert_eq!(b[0], json!(1), "module state leaked from the previous call");
    assert_eq!(a[1], b[1], "the warm worker was not reused");
}

#[tokio::test]
async fn workers_are_reused_for_their_own_script_and_retired_after_their_calls() {
    let pid_script = |name: &str| {
        Script::new(
            name,
            "import os\ndef Pid():\n    return os.getpid()\n",
            Lifecycle::Live,
            ScriptOwner::Utility,
        )
    };
    let (a, b) = (pid_script("a.py"), pid_script("b.py"));
    let host = TestHost::new("http://127.0.0.1:9");
    let pid = |rt: &PythonRuntime, s: &Arc<Script>| {
        let rt = rt.clone();
        let s = s.clone();
        let host = &host;
        async move {
            call("Pid")
                .run(&rt, &s, host)
                .await
                .unwrap()
                .output
                .return_data
        }
    };
    // One worker: another script's call retires it (a worker does not carry one script's
    // leftovers into another's), unless sharing is asked for.
    let rt = runtime_with(|c| c.pool_size = 1);
    let first = pid(&rt, &a).await;
    assert_eq!(pid(&rt, &a).await, first);
    assert_ne!(pid(&rt, &b).await, first);
    let shared = runtime_with(|c| {
        c.pool_size = 1;
        c.share_workers_between_scripts = true;
    });
    let first = pid(&shared, &a).await;
    assert_eq!(pid(&shared, &b).await, first);
    // Past max_calls_per_worker a worker is retired.
    let rt = runtime_with(|c| {
        c.pool_size = 1;
        c.max_calls_per_worker = 2;
    });
    let first = pid(&rt, &a).await;
    assert_eq!(pid(&rt, &a).await, first);
    assert_ne!(pid(&rt, &a).await, first);
}

#[tokio::test]
async fn waiting_for_a_busy_pool_counts_against_the_timeout() {
    let rt = runtime_with(|c| c.pool_size = 1);
    let host = TestHost::new("http://127.0.0.1:9");
    let s = script("faults.py", "");
    let mut slow = call("Sleeps");
    slow.timeout = Some(Duration::from_secs(3));
    let mut waiting = call("Ok");
    waiting.timeout = Some(Duration::from_millis(400));
    let (slow, waiting) = tokio::join!(slow.run(&rt, &s, &host), async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        waiting.run(&rt, &s, &host).await
    });
    assert_eq!(
        waiting.unwrap_err().to_string(),
        "the Python command timed out after 0.4 s waiting for a free Python worker (1 of 1 busy)"
    );
    assert!(matches!(slow, Err(PythonError::Timeout { .. })));
    next_call_works(&rt, &s, &host).await;
}

#[tokio::test]
async fn concurrent_calls_share_the_pool() {
    let rt = runtime_with(|c| c.pool_size = 2);
    let host = TestHost::new("http://127.0.0.1:9");
    let s = script("utility_calls.py", "");
    let calls = (0..8).map(|_| call("utilityCommandCalls").run(&rt, &s, &host));
    for r in futures::future::join_all(calls).await {
        assert_eq!(r.unwrap().output.return_data, json!("Join Text"));
    }
    assert!(rt.live_workers() <= 2);
}

// ---- faults: each fails its own call, and the next call works ---------------------------------

/// A pool of one worker, so the call after a fault runs on its replacement.
fn fault_runtime() -> PythonRuntime {
    runtime_with(|c| {
        c.pool_size = 1;
        c.spares = 1;
    })
}

async fn next_call_works(rt: &PythonRuntime, s: &Arc<Script>, host: &TestHost) {
    let out = call("Ok").run(rt, s, host).await.unwrap();
    assert_eq!(out.output.return_data, json!("fine"));
}

#[tokio::test]
async fn fault_raise_shows_the_masked_traceback() {
    let rt = fault_runtime();
    let host = TestHost::new("http://127.0.0.1:9");
    let s = script("faults.py", "");
    let e = call("Raises").run(&rt, &s, &host).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "ValueError: the server refused key *****\nTraceback (most recent call last):\n  \
         File \"tests/python/faults.py\", line 14, in Raises\n    \
         raise ValueError(\"the server refused key \" + key)"
    );
    assert!(!e.to_string().contains(SECRET));
    let out = e.output_model("Raises");
    assert_eq!(out.status, Status::Failed);
    next_call_works(&rt, &s, &host).await;
}

#[tokio::test]
async fn fault_exit_and_hard_exit() {
    let rt = fault_runtime();
    let host = TestHost::new("http://127.0.0.1:9");
    let s = script("faults.py", "");
    let e = call("Exits").run(&rt, &s, &host).await.unwrap_err();
    assert_eq!(
        e,
        PythonError::Script("the script called sys.exit(3) instead of returning".into())
    );
    next_call_works(&rt, &s, &host).await;
    let e = call("HardExit").run(&rt, &s, &host).await.unwrap_err();
    assert_eq!(
        e,
        PythonError::Crashed(
            "the Python process exited with status 7 before the command returned".into()
        )
    );
    next_call_works(&rt, &s, &host).await;
}

#[tokio::test]
async fn fault_sleep_past_the_timeout_is_killed() {
    let rt = fault_runtime();
    let host = TestHost::new("http://127.0.0.1:9");
    let s = script("faults.py", "");
    let mut c = call("Sleeps");
    c.timeout = Some(Duration::from_millis(700));
    let started = Instant::now();
    let e = c.run(&rt, &s, &host).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        e.to_string(),
        "the Python command timed out after 0.7 s; its process was killed"
    );
    next_call_works(&rt, &s, &host).await;
}

#[tokio::test]
async fn fault_allocating_10_gb_hits_python_memory() {
    let rt = fault_runtime();
    let host = TestHost::new("http://127.0.0.1:9");
    let s = script("faults.py", "");
    let e = call("Allocates").run(&rt, &s, &host).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "MemoryError: the script needed more memory than the python-memory limit of 1GiB allows \
         (raise it with `--limit python-memory=N` if the input is trusted)\n\
         Traceback (most recent call last):\n  File \"tests/python/faults.py\", line 31, in Allocates\n    \
         block = bytearray(10 * 1024 ** 3)"
    );
    next_call_works(&rt, &s, &host).await;
}

#[tokio::test]
async fn fault_printing_1_gb_hits_python_output() {
    let rt = fault_runtime();
    let host = TestHost::new("http://127.0.0.1:9");
    let s = script("faults.py", "");
    let e = call("Prints").run(&rt, &s, &host).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "the Python command's output (logs, call-backs and result) passed the python-output limit \
         of 16MiB; its process was killed (raise it with `--limit python-output=N` if the input is trusted)"
    );
    // At most the limit was delivered.
    let delivered: usize = host.logs().iter().map(|l| l.len() + 1).sum();
    assert!(delivered <= 16 * 1024 * 1024, "{delivered}");
    next_call_works(&rt, &s, &host).await;
}

#[tokio::test]
async fn fault_fork_bomb_and_programs_are_refused() {
    let rt = fault_runtime();
    let host = TestHost::new("http://127.0.0.1:9");
    let s = script("faults.py", "");
    let e = call("Forks")
        .run(&rt, &s, &host)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(
            "PermissionError: [Errno 1] Operation not permitted (Python commands may not start other processes)\n\
             Traceback (most recent call last):\n  File \"tests/python/faults.py\", line 45, in Forks"
        ),
        "{e}"
    );
    let e = call("RunsAProgram")
        .run(&rt, &s, &host)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("PermissionError: [Errno 1] Operation not permitted (Python commands may not start other processes)"),
        "{e}"
    );
    next_call_works(&rt, &s, &host).await;
}

#[tokio::test]
async fn fault_environment_holds_no_secrets() {
    assert!(std::env::var_os("CARGO_MANIFEST_DIR").is_some());
    let rt = fault_runtime();
    let host = TestHost::new("http://127.0.0.1:9");
    let s = script("faults.py", "");
    let out = call("ReadsEnvironment").run(&rt, &s, &host).await.unwrap();
    let env = out.output.return_data["environ"]
        .as_object()
        .unwrap()
        .clone();
    let mut keys: Vec<&str> = env.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["HOME", "LANG", "PATH", "TMPDIR"]);
    assert!(!out.output.return_data["environ"]
        .to_string()
        .contains(SECRET));
    // The secret reaches the script through runtime only.
    assert_eq!(out.output.return_data["connector"]["apikey"], json!(SECRET));
    next_call_works(&rt, &s, &host).await;
}

#[tokio::test]
async fn fault_writes_outside_its_directory_in_basic_mode() {
    // Basic isolation does not confine files: a write anywhere the user may write succeeds
    // (docs/python.md). The working directory is the worker's own and is emptied between calls.
    let rt = fault_runtime();
    let host = TestHost::new("http://127.0.0.1:9");
    let s = script("faults.py", "");
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("escaped.txt");
    let out = call("WritesOutside")
        .arg("path", ParamType::Text, json!(target.to_str().unwrap()))
        .run(&rt, &s, &host)
        .await
        .unwrap();
    assert_eq!(out.output.status, Status::Successful);
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "written from Python"
    );

    let first = call("WritesInside").run(&rt, &s, &host).await.unwrap();
    let cwd = first.output.return_data["cwd"].as_str().unwrap().to_owned();
    assert!(cwd.contains("codeless-python-"), "{cwd}");
    assert_eq!(first.output.return_data["existed"], json!(false));
    let second = call("WritesInside").run(&rt, &s, &host).await.unwrap();
    assert_eq!(second.output.return_data["cwd"], json!(cwd));
    assert_eq!(
        second.output.return_data["existed"],
        json!(false),
        "the directory was not emptied"
    );
    drop(rt);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !std::path::Path::new(&cwd).exists(),
        "{cwd} was not removed"
    );
}

#[tokio::test]
async fn fault_cpu_burn_hits_python_cpu() {
    let rt = runtime_with(|c| {
        c.pool_size = 1;
        c.limits.cpu_seconds = 1;
    });
    let host = TestHost::new("http://127.0.0.1:9");
    let s = script("faults.py", "");
    let mut c = call("BurnsCpu");
    c.timeout = Some(Duration::from_secs(60));
    let started = Instant::now();
    let e = c.run(&rt, &s, &host).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        e.to_string(),
        "the Python command used more than the python-cpu limit of 1 s of CPU time; its process was \
         killed (raise it with `--limit python-cpu=N` if the input is trusted)"
    );
    next_call_works(&rt, &s, &host).await;
}

#[tokio::test]
async fn fault_segfault_is_a_crash_of_its_call_only() {
    let rt = fault_runtime();
    let host = TestHost::new("http://127.0.0.1:9");
    let s = script("faults.py", "");
    let e = call("Segfaults")
        .run(&rt, &s, &host)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("the Python process was killed by signal 11 (SIGSEGV)"),
        "{e}"
    );
    assert!(e.ends_with("before the command returned"), "{e}");
    next_call_works(&rt, &s, &host).await;
}

#[tokio::test]
async fn a_thread_left_running_retires_its_worker() {
    let rt = fault_runtime();
    let host = TestHost::new("http://127.0.0.1:9");
    let s = script("faults.py", "");
    let first = call("LeavesAThread").run(&rt, &s, &host).await.unwrap();
    let next = call("Pid").run(&rt, &s, &host).await.unwrap();
    assert_ne!(first.output.return_data, next.output.return_data);
}

#[tokio::test]
async fn a_killed_idle_worker_is_replaced() {
    let rt = fault_runtime();
    let host = TestHost::new("http://127.0.0.1:9");
    let s = script("faults.py", "");
    let pid = call("Pid")
        .run(&rt, &s, &host)
        .await
        .unwrap()
        .output
        .return_data;
    let idle = rt.idle_worker_pids();
    assert_eq!(idle, [pid.as_u64().unwrap() as u32]);
    // SAFETY: a signal to our own child.
    unsafe {
        libc::kill(idle[0] as i32, libc::SIGKILL);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The dead worker is found at checkout: the call runs on its replacement.
    let next = call("Pid")
        .run(&rt, &s, &host)
        .await
        .unwrap()
        .output
        .return_data;
    assert_ne!(next, pid);
    assert_eq!(rt.live_workers(), 1);
}

#[tokio::test]
async fn a_dropped_call_kills_its_worker() {
    let rt = fault_runtime();
    let host = TestHost::new("http://127.0.0.1:9");
    let s = script("faults.py", "");
    let pid = call("Pid")
        .run(&rt, &s, &host)
        .await
        .unwrap()
        .output
        .return_data;
    let pid = pid.as_u64().unwrap() as i32;
    let mut c = call("Sleeps");
    c.timeout = None;
    // The engine's own timeout drops the call's future.
    let r = tokio::time::timeout(Duration::from_millis(500), c.run(&rt, &s, &host)).await;
    assert!(r.is_err());
    tokio::time::sleep(Duration::from_millis(300)).await;
    // SAFETY: signal 0 only asks whether the process exists.
    let alive = unsafe { libc::kill(pid, 0) } == 0;
    assert!(!alive, "worker {pid} outlived its dropped call");
    next_call_works(&rt, &s, &host).await;
}

#[tokio::test]
async fn missing_function_and_broken_script_fail_their_call() {
    let rt = fault_runtime();
    let host = TestHost::new("http://127.0.0.1:9");
    let s = script("faults.py", "");
    let e = call("NoSuchCommand").run(&rt, &s, &host).await.unwrap_err();
    assert!(
        e.to_string().starts_with("the script tests/python/faults.py defines no function `NoSuchCommand` (it defines: Allocates, BurnsCpu,"),
        "{e}"
    );
    let broken = Script::new(
        "broken.py",
        "def A():\n    return D3.Utility.concatToRear<Text>('a', 'b') +* 2\n",
        Lifecycle::Live,
        ScriptOwner::Utility,
    );
    let e = call("A").run(&rt, &broken, &host).await.unwrap_err();
    assert_eq!(
        e,
        PythonError::Script(
            "the script broken.py cannot be loaded: SyntaxError: invalid syntax (line 2, column 53)"
                .into()
        )
    );
    next_call_works(&rt, &s, &host).await;
}

// ---- the interpreter -----------------------------------------------------------------------------

#[test]
fn a_missing_or_old_interpreter_is_a_clear_error() {
    let err = |p: &str| {
        PythonRuntime::new(PythonConfig {
            interpreter: Some(p.into()),
            ..PythonConfig::default()
        })
        .err()
        .unwrap()
        .to_string()
    };
    assert_eq!(
        err("/nonexistent/python3"),
        "`/nonexistent/python3` cannot be run as the Python for Python commands: No such file or directory (os error 2) (set CODELESS_PYTHON to a Python 3.9 or newer, or unset it to use `python3` on PATH)"
    );
    assert_eq!(
        err("/bin/true"),
        "`/bin/true` cannot be run as the Python for Python commands: it did not answer as Python 3 does (set CODELESS_PYTHON to a Python 3.9 or newer, or unset it to use `python3` on PATH)"
    );
    let old = "/root/.pyenv/versions/3.8.18/bin/python3";
    if std::path::Path::new(old).exists() {
        assert_eq!(
            err(old),
            format!("`{old}` is Python 3.8.18; Python commands need Python 3.9 or newer (set CODELESS_PYTHON to a newer one)")
        );
    }
    // Through the variable, and with neither.
    let e = codeless::python::Interpreter::find(None, Some("/nope/py".as_ref()), None)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("CODELESS_PYTHON=`/nope/py` cannot be run"),
        "{e}"
    );
    let i = codeless::python::Interpreter::find(None, None, None).unwrap();
    assert!(i.version >= (3, 9, 0));
    assert!(i.program.is_absolute());
}

#[test]
fn a_library_directory_is_searched_first_and_checked() {
    let lib = tempfile::tempdir().unwrap();
    std::fs::write(lib.path().join("mylib.py"), "VALUE = 42\n").unwrap();
    let i = codeless::python::Interpreter::find(None, None, Some(lib.path())).unwrap();
    assert_eq!(i.sys_path[0], lib.path().to_str().unwrap());
    let venv = tempfile::tempdir().unwrap();
    std::fs::write(venv.path().join("pyvenv.cfg"), "home = /usr\n").unwrap();
    let e = codeless::python::Interpreter::find(None, None, Some(venv.path()))
        .unwrap_err()
        .to_string();
    assert!(e.contains("has no"), "{e}");
    assert!(e.contains("site-packages"), "{e}");
}

#[tokio::test]
async fn scripts_import_from_the_library_directory() {
    let lib = tempfile::tempdir().unwrap();
    std::fs::write(lib.path().join("mylib.py"), "VALUE = 42\n").unwrap();
    let rt = runtime_with(|c| c.library = Some(lib.path().to_path_buf()));
    let host = TestHost::new("http://127.0.0.1:9");
    let s = Script::new(
        "lib.py",
        "import mylib\ndef A():\n    return mylib.VALUE\n",
        Lifecycle::Live,
        ScriptOwner::Utility,
    );
    let out = call("A").run(&rt, &s, &host).await.unwrap();
    assert_eq!(out.output.return_data, json!(42));
    let v = validate_scripts(
        rt.interpreter(),
        &[ScriptCheck {
            path: "lib.py",
            source: &s.source,
        }],
        &[],
    )
    .unwrap();
    assert_eq!(v.diagnostics, []);
}

// ---- strict isolation ----------------------------------------------------------------------------

#[tokio::test]
async fn strict_isolation_confines_files_and_network() {
    let rt = match PythonRuntime::new(PythonConfig {
        isolation: Isolation::Strict,
        pool_size: 1,
        ..PythonConfig::default()
    }) {
        Ok(rt) => rt,
        Err(e) => {
            // Where the kernel cannot, strict is refused with the reason, never silently weaker.
            let e = e.to_string();
            assert!(e.starts_with("strict Python isolation"), "{e}");
            eprintln!("strict isolation not available here: {e}");
            return;
        }
    };
    assert!(rt
        .isolation_summary()
        .iter()
        .any(|l| l.starts_with("files (Landlock")));
    let server = events_server(200, json!({"ip": "192.0.2.1"})).await;
    let host = TestHost::new(&server.uri());
    let s = script("faults.py", "");
    next_call_works(&rt, &s, &host).await;

    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("escaped.txt");
    let e = call("WritesOutside")
        .arg("path", ParamType::Text, json!(target.to_str().unwrap()))
        .run(&rt, &s, &host)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("PermissionError: [Errno 13] Permission denied"),
        "{e}"
    );
    assert!(!target.exists());
    let inside = call("WritesInside").run(&rt, &s, &host).await.unwrap();
    assert_eq!(inside.output.return_data["existed"], json!(false));

    // Reading outside the Python installation and system files is refused too.
    let secret_file = outside.path().join("connections.yaml");
    std::fs::write(&secret_file, "apikey: x").unwrap();
    let reader = Script::new(
        "reader.py",
        "def Read(p):\n    return open(p).read()\n",
        Lifecycle::Live,
        ScriptOwner::Utility,
    );
    let e = call("Read")
        .arg("p", ParamType::Text, json!(secret_file.to_str().unwrap()))
        .run(&rt, &reader, &host)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("PermissionError: [Errno 13] Permission denied"),
        "{e}"
    );

    // No network of its own: the seed's TestConnection (requests) cannot connect ...
    let out = call("TestConnection")
        .run(&rt, &script("my_siem.py", &server.uri()), &host)
        .await
        .unwrap();
    assert_eq!(out.output.status, Status::Failed);
    // ... while conn.sendRequest, made by codeless, still works.
    let p = script("partial.py", &server.uri());
    let out = call("fetchEvents")
        .arg("event_ids", ParamType::JsonArray, json!([1]))
        .run(&rt, &p, &host)
        .await
        .unwrap();
    assert_eq!(out.output.status, Status::Successful);
}

// ---- validation ----------------------------------------------------------------------------------

fn check(names: &[&str]) -> codeless::python::Validation {
    let interp = codeless::python::Interpreter::find(None, None, None).unwrap();
    let sources: Vec<(String, String)> = names
        .iter()
        .map(|n| (format!("tests/python/{n}"), fixture(n)))
        .collect();
    let scripts: Vec<ScriptCheck> = sources
        .iter()
        .map(|(p, s)| ScriptCheck { path: p, source: s })
        .collect();
    let registry = Registry::builtin();
    let known: Vec<&str> = registry.iter().map(|c| c.spec.name.as_str()).collect();
    validate_scripts(&interp, &scripts, &known).unwrap()
}

fn findings(v: &codeless::python::Validation) -> Vec<String> {
    v.diagnostics
        .iter()
        .map(|d| {
            format!(
                "{}:{}:{} {} {}",
                d.path, d.line, d.column, d.code, d.message
            )
        })
        .collect()
}

#[test]
fn validation_reports_each_rule_at_its_line_and_column() {
    let v = check(&[
        "check_syntax.py",
        "check_reserved.py",
        "check_imports.py",
        "check_utilities.py",
        "check_clean.py",
        "my_siem.py",
    ]);
    let reserved = "is reserved for the engine (pb, runtime, args and input are defined for every call); a module-level definition would replace it (parameters and locals may use the name)";
    let class = |n: &str| {
        format!("`{n}` is reserved: the engine defines the class `{n}` (D3's system script does); name yours otherwise")
    };
    let stdlib = "is not in the standard library: a script may import the standard library, requests and pytz (and modules of the configured Python library directory)";
    assert_eq!(
        findings(&v),
        [
            "tests/python/check_syntax.py:3:55 python-syntax SyntaxError: invalid syntax".to_owned(),
            format!("tests/python/check_reserved.py:1:1 python-reserved-name `input` {reserved}"),
            format!("tests/python/check_reserved.py:2:1 python-reserved-name `pb` {reserved}"),
            format!("tests/python/check_reserved.py:3:5 python-reserved-name `runtime` {reserved}"),
            format!("tests/python/check_reserved.py:5:7 python-reserved-name {}", class("APIError")),
            format!("tests/python/check_reserved.py:7:5 python-reserved-name `args` {reserved}"),
            format!("tests/python/check_reserved.py:10:5 python-reserved-name {}", class("PlaybookRunTime")),
            format!("tests/python/check_reserved.py:15:5 python-reserved-name {}", class("HTTPAPIError")),
            format!("tests/python/check_reserved.py:17:13 python-reserved-name `runtime` {reserved}"),
            format!("tests/python/check_imports.py:2:1 python-import `numpy` {stdlib}"),
            format!("tests/python/check_imports.py:3:1 python-import `pandas.core` {stdlib}"),
            format!("tests/python/check_imports.py:7:5 python-import `yaml` {stdlib}"),
            "tests/python/check_imports.py:8:5 python-import `.`: a relative import; a script is one file and may import the standard library, requests and pytz".to_owned(),
            "tests/python/check_utilities.py:4:23 python-unknown-utility unknown utility command `D3.Utility.concatToRearr` (did you mean `concatToRear`?); `codeless commands` lists them".to_owned(),
            "tests/python/check_utilities.py:6:20 python-unknown-utility unknown utility command `D3.Utility.nosuchThing`; `codeless commands` lists them".to_owned(),
            "tests/python/check_utilities.py:7:62 python-unknown-utility unknown utility command `D3.Utility.equal` (did you mean `equals`?); `codeless commands` lists them".to_owned(),
        ]
    );
    let f = |p: &str| v.functions[&format!("tests/python/{p}")].clone();
    assert_eq!(
        f("check_clean.py"),
        ["fetchEvent", "TestConnection", "conditional"]
    );
    assert_eq!(
        f("my_siem.py"),
        [
            "fetchEvent",
            "TestConnection",
            "retrySample",
            "utilityCommandCalls"
        ]
    );
    assert_eq!(f("check_syntax.py"), Vec::<String>::new());
}

#[test]
fn validation_of_no_scripts_starts_no_python() {
    let interp = codeless::python::Interpreter::find(None, None, None).unwrap();
    assert_eq!(
        validate_scripts(&interp, &[], &[]).unwrap(),
        Default::default()
    );
}

#[test]
fn validation_survives_hostile_sources() {
    let interp = codeless::python::Interpreter::find(None, None, None).unwrap();
    let deep = format!("x = {}1{}\n", "(".repeat(5000), ")".repeat(5000));
    let v = validate_scripts(
        &interp,
        &[
            ScriptCheck {
                path: "deep.py",
                source: &deep,
            },
            ScriptCheck {
                path: "nul.py",
                source: "x = 1\0\n",
            },
            ScriptCheck {
                path: "open.py",
                source: "s = '''never closed\n",
            },
            ScriptCheck {
                path: "fine.py",
                source: "def F():\n    pass\n",
            },
        ],
        &[],
    )
    .unwrap();
    let by: Vec<(&str, usize, &str)> = v
        .diagnostics
        .iter()
        .map(|d| (d.path.as_str(), d.line, d.code))
        .collect();
    assert_eq!(
        by,
        [
            ("deep.py", 1, "python-syntax"),
            ("nul.py", 1, "python-syntax"),
            ("open.py", 1, "python-syntax"),
        ]
    );
    assert_eq!(v.functions["fine.py"], ["F"]);
}

// ---- measurements (cargo test --release --test python measure -- --ignored --nocapture) -------

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn pct(mut v: Vec<Duration>, p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 - 1.0) * p) as usize]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement: run with --ignored --nocapture"]
async fn measure_call_overhead() {
    let trivial =
        "def Trivial():\n    return pb.returnOutputModel('ok', 'Successful', '', '', '', '')\n";
    let s = Script::new("trivial.py", trivial, Lifecycle::Live, ScriptOwner::Utility);
    let host = TestHost::new("http://127.0.0.1:9");

    // Cold: a new runtime (interpreter probe included) until its first call returns.
    let mut cold_first_call = Vec::new();
    let mut cold_start = Vec::new();
    for _ in 0..10 {
        let t = Instant::now();
        let rt = runtime_with(|c| {
            c.pool_size = 1;
            c.spares = 0;
        });
        let probed = t.elapsed();
        let t2 = Instant::now();
        call("Trivial").run(&rt, &s, &host).await.unwrap();
        cold_first_call.push(probed + t2.elapsed());
        cold_start.push(t2.elapsed());
    }

    let rt = runtime_with(|c| {
        c.pool_size = 1;
        c.spares = 1;
    });
    for _ in 0..50 {
        call("Trivial").run(&rt, &s, &host).await.unwrap();
    }
    let mut warm = Vec::new();
    for _ in 0..2000 {
        let t = Instant::now();
        call("Trivial").run(&rt, &s, &host).await.unwrap();
        warm.push(t.elapsed());
    }

    // Replacement: kill the idle worker; time until a call succeeds again on a new one.
    let mut replace = Vec::new();
    for _ in 0..10 {
        let pid = rt.idle_worker_pids()[0];
        // SAFETY: a signal to our own child.
        unsafe {
            libc::kill(pid as i32, libc::SIGKILL);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        let t = Instant::now();
        call("Trivial").run(&rt, &s, &host).await.unwrap();
        replace.push(t.elapsed());
    }

    // StackStorm style: a fresh python3 per call running the script and printing the result.
    let program = rt.interpreter().program.clone();
    let mut fresh = Vec::new();
    let runner = format!("{trivial}\nimport json\nclass _P:\n    def returnOutputModel(self, *a): return list(a)\npb = _P()\nprint(json.dumps(Trivial()))\n");
    for _ in 0..30 {
        let t = Instant::now();
        let out = tokio::process::Command::new(&program)
            .args(["-I", "-c", &runner])
            .output()
            .await
            .unwrap();
        assert!(out.status.success());
        fresh.push(t.elapsed());
    }
    println!("python {}", rt.interpreter().version_text());
    println!(
        "warm call, trivial command: median {:?}, p90 {:?}, p99 {:?} (n={})",
        median(warm.clone()),
        pct(warm.clone(), 0.9),
        pct(warm, 0.99),
        2000
    );
    println!(
        "cold pool: first worker start + first call median {:?} (probe included: {:?})",
        median(cold_start),
        median(cold_first_call)
    );
    println!(
        "worker replacement after a kill (the next call, on a new worker): median {:?}",
        median(replace)
    );
    println!(
        "fresh python3 per call (StackStorm style): median {:?}",
        median(fresh)
    );
}
