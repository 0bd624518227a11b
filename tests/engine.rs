//! Run semantics end to end through the library: joins, loops, batch, retry, timeouts,
//! skip/block propagation, on_error, transforms, outputs and template injection.

use codeless::cli::playbook_from_str;
use codeless::run::{run_document, run_playbook, Mocks, RunData, RunOptions};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Instant;

async fn run_with(yaml: &str, incident: Value, mocks: Value, concurrency: usize) -> Value {
    let (pb, ws) = match playbook_from_str("t.yaml", yaml) {
        Ok(p) => p,
        Err(d) => panic!(
            "invalid playbook: {:?}",
            d.iter().map(|d| d.short()).collect::<Vec<_>>()
        ),
    };
    let registry = Arc::new(ws.registry.clone());
    let (plan, _) = codeless::plan::plan(&pb);
    let data = RunData {
        incident,
        connector: json!({"apikey": "sk-secret-value"}),
        inputs: json!({}),
        ..RunData::default()
    };
    let opts = RunOptions {
        concurrency,
        mocks: Mocks::from_json(&mocks).expect("mocks"),
        ..RunOptions::default()
    };
    let r = run_playbook(pb.clone(), Arc::new(plan), registry, data, opts).await;
    run_document(&pb, &r)
}

async fn run(yaml: &str, mocks: Value) -> Value {
    run_with(yaml, json!({"title": "t"}), mocks, 8).await
}

fn status(doc: &Value, task: &str) -> String {
    doc["tasks"][task]["status"]
        .as_str()
        .unwrap_or("?")
        .to_owned()
}

const HEADER: &str = "kind: playbook\nname: T\n";

#[tokio::test]
async fn join_all_runs_once_after_every_branch() {
    let doc = run(&format!("{HEADER}tasks:\n  a: {{ command: equals, input: {{ input1: x, input2: x }}, next: [b, c] }}\n  b: {{ command: equals, input: {{ input1: x, input2: x }}, next: [d] }}\n  c: {{ command: equals, input: {{ input1: x, input2: x }}, next: [d] }}\n  d: {{ command: concatToRear, input: {{ input: \"<<tasks.b.returnData>>\", value: \"-<<tasks.c.returnData>>\" }} }}\n"), json!({})).await;
    assert_eq!(doc["status"], "Successful");
    assert_eq!(doc["tasks"]["d"]["runs"], 1);
    assert_eq!(doc["tasks"]["d"]["returnData"], "true-true");
}

#[tokio::test]
async fn wait_any_runs_per_predecessor_and_any_once_once() {
    let body = "tasks:\n  a: { command: equals, input: { input1: x, input2: x }, next: [b, c] }\n  b: { command: equals, input: { input1: x, input2: x }, next: [d, e] }\n  c: { command: equals, input: { input1: x, input2: x }, next: [d, e] }\n  d: { command: equals, input: { input1: x, input2: x }, wait: any }\n  e: { command: equals, input: { input1: x, input2: x }, wait: any_once }\n";
    let doc = run(&format!("{HEADER}{body}"), json!({})).await;
    assert_eq!(doc["tasks"]["d"]["runs"], 2);
    assert_eq!(doc["tasks"]["e"]["runs"], 1);
}

const BRANCHY: &str = "tasks:\n  check:\n    type: conditional\n    command: contains\n    input: { input: <<incident.title>>, search_value: Phish }\n    branches: { \"true\": [hit], \"false\": [miss] }\n  hit: { command: equals, input: { input1: a, input2: a }, next: [join] }\n  miss: { command: equals, input: { input1: a, input2: a }, next: [after_miss, join] }\n  after_miss: { command: equals, input: { input1: a, input2: a } }\n  join: { command: equals, input: { input1: a, input2: a } }\n";

#[tokio::test]
async fn branches_not_taken_are_skipped_transitively_and_joins_still_run() {
    let doc = run_with(
        &format!("{HEADER}{BRANCHY}"),
        json!({"title": "Phish alert"}),
        json!({}),
        4,
    )
    .await;
    assert_eq!(status(&doc, "check"), "Successful");
    assert_eq!(doc["tasks"]["check"]["returnData"], true);
    assert_eq!(status(&doc, "hit"), "Successful");
    assert_eq!(status(&doc, "miss"), "Skipped");
    assert_eq!(status(&doc, "after_miss"), "Skipped");
    assert_eq!(status(&doc, "join"), "Successful");
    assert_eq!(doc["status"], "Successful");
    let doc = run_with(
        &format!("{HEADER}{BRANCHY}"),
        json!({"title": "Benign"}),
        json!({}),
        4,
    )
    .await;
    assert_eq!(status(&doc, "hit"), "Skipped");
    assert_eq!(status(&doc, "after_miss"), "Successful");
}

const FAILING: &str = "tasks:\n  start: { command: equals, input: { input1: a, input2: a }, next: [bad, good] }\n  bad: { command: fail, input: { message: boom }, ON_ERROR next: [after] }\n  good: { command: equals, input: { input1: a, input2: a }, next: [join] }\n  after: { command: concatToRear, input: { input: \"seen: \", value: \"<<tasks.bad.error.message>>\" }, next: [join] }\n  join: { command: equals, input: { input1: a, input2: a } }\n";

#[tokio::test]
async fn on_error_stop_blocks_successors_and_fails_the_run() {
    let doc = run(
        &format!("{HEADER}{}", FAILING.replace("ON_ERROR ", "")),
        json!({}),
    )
    .await;
    assert_eq!(doc["status"], "Failed");
    assert_eq!(status(&doc, "bad"), "Failed");
    assert_eq!(doc["tasks"]["bad"]["error"]["message"], "boom");
    assert_eq!(doc["tasks"]["bad"]["error"]["indicator"], "Fail failed.");
    assert_eq!(status(&doc, "after"), "Blocked");
    assert_eq!(status(&doc, "join"), "Blocked");
    assert_eq!(
        status(&doc, "good"),
        "Successful",
        "the other branch still ran"
    );
}

#[tokio::test]
async fn on_error_continue_runs_successors_that_read_the_error() {
    let doc = run(
        &format!(
            "{HEADER}{}",
            FAILING.replace("ON_ERROR ", "on_error: continue, ")
        ),
        json!({}),
    )
    .await;
    assert_eq!(doc["status"], "Partially Successful");
    assert_eq!(doc["tasks"]["after"]["returnData"], "seen: boom");
    assert_eq!(status(&doc, "join"), "Successful");
}

const LOOP: &str = "tasks:\n  start: { command: equals, input: { input1: a, input2: a }, next: [poll] }\n  poll: { command: equals, input: { input1: a, input2: a }, next: [done_yet] }\n  done_yet:\n    type: conditional\n    command: equals\n    input: { input1: a, input2: b }\n    max_loops: MAX\n    branches: { \"false\": [poll], \"true\": [finish] }\n  finish: { command: equals, input: { input1: a, input2: a } }\n";

#[tokio::test]
async fn loops_repeat_until_the_condition_changes() {
    let mocks =
        json!({"done_yet": [{"returnData": false}, {"returnData": false}, {"returnData": true}]});
    let doc = run(&format!("{HEADER}{}", LOOP.replace("MAX", "5")), mocks).await;
    assert_eq!(doc["status"], "Successful");
    assert_eq!(doc["tasks"]["poll"]["runs"], 3);
    assert_eq!(doc["tasks"]["done_yet"]["runs"], 3);
    assert_eq!(status(&doc, "finish"), "Successful");
    assert_eq!(doc["tasks"]["finish"]["runs"], 1);
}

#[tokio::test]
async fn loops_stop_at_max_loops_with_a_clear_failure() {
    let mocks = json!({"done_yet": {"returnData": false}});
    let doc = run(&format!("{HEADER}{}", LOOP.replace("MAX", "2")), mocks).await;
    assert_eq!(doc["status"], "Failed");
    assert_eq!(doc["tasks"]["poll"]["runs"], 3);
    let msg = doc["tasks"]["done_yet"]["error"]["message"]
        .as_str()
        .unwrap();
    assert!(
        msg.contains("reached its loop limit (max_loops: 2)"),
        "{msg}"
    );
    assert_eq!(status(&doc, "finish"), "Blocked");
}

#[tokio::test]
async fn batch_runs_per_element_with_item_and_index() {
    let yaml = format!("{HEADER}tasks:\n  each:\n    command: concatToRear\n    input:\n      input: <<incident.ips>>\n      value: \" #<<index>> of <<item>>\"\n");
    let doc = run_with(
        &yaml,
        json!({"ips": ["1.1.1.1", "2.2.2.2", "3.3.3.3"]}),
        json!({}),
        4,
    )
    .await;
    assert_eq!(
        doc["tasks"]["each"]["returnData"],
        json!([
            "1.1.1.1 #0 of 1.1.1.1",
            "2.2.2.2 #1 of 2.2.2.2",
            "3.3.3.3 #2 of 3.3.3.3"
        ])
    );
    assert_eq!(status(&doc, "each"), "Successful");
}

/// `<<item>>` and `<<index>>` in parameters that are not text (an object, a number): each
/// element's value is checked as that parameter's type, not a text placeholder.
#[tokio::test]
async fn item_and_index_work_in_parameters_of_any_type() {
    let yaml = format!("{HEADER}tasks:\n  set:\n    command: setJsonKey\n    input:\n      input: {{ id: <<item>> }}\n      key: <<incident.keys>>\n      value: <<index>>\n  sum:\n    command: add\n    input: {{ input1: <<incident.nums>>, input2: <<index>> }}\n");
    let doc = run_with(
        &yaml,
        json!({"keys": ["a", "b"], "nums": [10, 20, 30]}),
        json!({}),
        4,
    )
    .await;
    assert_eq!(
        doc["tasks"]["set"]["returnData"],
        json!([{"id": "a", "a": 0}, {"id": "b", "b": 1}])
    );
    assert_eq!(doc["tasks"]["sum"]["returnData"], json!([10, 21, 32]));
}

/// Tasks that each wrap the one before in more levels cannot build a value deep enough to
/// overflow the stack (this chain crashed the process at about 4,000 levels): the task whose
/// value would pass 256 levels fails with a message, and the run ends normally.
#[tokio::test]
async fn chained_tasks_cannot_nest_values_without_bound() {
    let wrap = |inner: &str| format!("{}{inner}{}", "{a: ".repeat(20), "}".repeat(20));
    let mut yaml = format!("{HEADER}tasks:\n");
    for i in 0..20 {
        let inner = if i == 0 {
            "1".to_owned()
        } else {
            format!("\"<<tasks.t{}.returnData>>\"", i - 1)
        };
        let next = if i < 19 {
            format!(", next: [t{}]", i + 1)
        } else {
            String::new()
        };
        yaml.push_str(&format!(
            "  t{i}: {{ command: setJsonKey, input: {{ input: {{}}, key: a, value: {} }}{next} }}\n",
            wrap(&inner)
        ));
    }
    let doc = run_with(&yaml, json!({}), json!({}), 4).await;
    assert_eq!(status(&doc, "t11"), "Successful");
    assert_eq!(status(&doc, "t12"), "Failed");
    assert_eq!(
        doc["tasks"]["t12"]["error"]["message"],
        "parameter `value`: the value nests more than 256 levels deep, more than a command takes"
    );
    assert_eq!(status(&doc, "t13"), "Blocked");
}

/// A task timeout too large for a `Duration` means no practical limit, not a panic.
#[tokio::test]
async fn a_huge_task_timeout_is_no_limit() {
    let yaml = format!(
        "{HEADER}tasks:\n  up: {{ command: toUpper, input: {{ input: abc }}, timeout: 1e300 }}\n"
    );
    let doc = run_with(&yaml, json!({}), json!({}), 4).await;
    assert_eq!(status(&doc, "up"), "Successful");
    assert_eq!(doc["tasks"]["up"]["returnData"], "ABC");
}

/// A batch element is held to the parameter's options, as a single value is.
#[tokio::test]
async fn batch_elements_are_checked_against_the_options() {
    let yaml = format!("{HEADER}tasks:\n  ips: {{ command: extractIPs, input: {{ input: \"1.2.3.4\", ip_version: <<incident.versions>> }} }}\n");
    let doc = run_with(&yaml, json!({"versions": ["ipv4", "IPv5"]}), json!({}), 4).await;
    assert_eq!(status(&doc, "ips"), "Failed");
    assert_eq!(
        doc["tasks"]["ips"]["error"]["message"],
        "parameter `ip_version`, element 1: `IPv5` is not one of: all, ipv4, ipv6"
    );
}

#[tokio::test]
async fn two_lists_for_two_single_value_parameters_fail_the_task_clearly() {
    let yaml = format!("{HEADER}tasks:\n  each: {{ command: concatToRear, input: {{ input: <<incident.ips>>, value: <<incident.ips>> }} }}\n");
    let doc = run_with(&yaml, json!({"ips": ["a", "b"]}), json!({}), 4).await;
    assert_eq!(status(&doc, "each"), "Failed");
    let msg = doc["tasks"]["each"]["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("parameters `input` and `value` both received lists; batch execution runs over one list"),
        "{msg}"
    );
}

#[tokio::test]
async fn batch_with_some_failures_is_partially_successful() {
    let yaml = format!("{HEADER}tasks:\n  each: {{ command: concatToRear, input: {{ input: <<incident.ips>>, value: x }} }}\n");
    let mocks = json!({"each": [{"returnData": "ok"}, {"error": {"status_code": 404, "message": "not found"}}, {"returnData": "ok"}]});
    let doc = run_with(&yaml, json!({"ips": ["a", "b", "c"]}), mocks, 4).await;
    assert_eq!(status(&doc, "each"), "Partially Successful");
    assert_eq!(doc["status"], "Partially Successful");
    assert_eq!(
        doc["tasks"]["each"]["returnData"],
        json!(["ok", "Failed", "ok"])
    );
    assert!(doc["tasks"]["each"]["result"]
        .as_str()
        .unwrap()
        .contains("2 of 3 items succeeded"));
}

#[tokio::test]
async fn task_retry_retries_failures_and_counts_them() {
    let yaml = format!("{HEADER}tasks:\n  flaky: {{ command: equals, input: {{ input1: a, input2: a }}, retry: {{ attempts: 3, delay: [0.01] }} }}\n");
    let mocks = json!({"flaky": [{"error": {"message": "503"}}, {"error": {"message": "503"}}, {"returnData": "ok"}]});
    let doc = run(&yaml, mocks).await;
    assert_eq!(status(&doc, "flaky"), "Successful");
    assert_eq!(doc["tasks"]["flaky"]["retries"], 2);
    assert_eq!(doc["tasks"]["flaky"]["returnData"], "ok");
    let mocks = json!({"flaky": {"error": {"message": "down"}}});
    let doc = run(&yaml, mocks).await;
    assert_eq!(status(&doc, "flaky"), "Failed");
    assert_eq!(doc["tasks"]["flaky"]["retries"], 3);
}

#[tokio::test]
async fn a_command_can_ask_for_a_retry_with_a_delay() {
    let yaml = format!(
        "{HEADER}tasks:\n  fetch: {{ command: equals, input: {{ input1: a, input2: a }} }}\n"
    );
    let mocks = json!({"fetch": [{"returnData": {"__ACTION__": "__RETRY__", "__DELAY__": [0.01, 0.02]}}, {"returnData": {"__ACTION__": "__RETRY__", "__DELAY__": [0.01, 0.02]}}, {"returnData": "Successful", "rawData": {"n": 1}}]});
    let doc = run(&yaml, mocks).await;
    assert_eq!(status(&doc, "fetch"), "Successful");
    assert_eq!(doc["tasks"]["fetch"]["retries"], 2);
    assert_eq!(doc["tasks"]["fetch"]["rawData"], json!({"n": 1}));
}

#[tokio::test]
async fn timeouts_fail_the_task_with_a_clear_message() {
    let yaml = format!("{HEADER}tasks:\n  slow: {{ command: sleep, input: {{ seconds: 30 }}, timeout: 0.2, next: [after] }}\n  after: {{ command: equals, input: {{ input1: a, input2: a }} }}\n");
    let t = Instant::now();
    let doc = run(&yaml, json!({})).await;
    assert!(
        t.elapsed().as_secs_f64() < 5.0,
        "the run did not wait for the sleep"
    );
    assert_eq!(status(&doc, "slow"), "Failed");
    assert_eq!(
        doc["tasks"]["slow"]["error"]["message"],
        "task `slow` timed out after 0.2 s"
    );
    assert_eq!(status(&doc, "after"), "Blocked");
}

#[tokio::test]
async fn independent_branches_run_concurrently_within_the_bound() {
    let yaml = format!("{HEADER}tasks:\n  a: {{ command: sleep, input: {{ seconds: 0.4 }} }}\n  b: {{ command: sleep, input: {{ seconds: 0.4 }} }}\n  c: {{ command: sleep, input: {{ seconds: 0.4 }} }}\n");
    let t = Instant::now();
    run_with(&yaml, json!({}), json!({}), 3).await;
    let parallel = t.elapsed().as_secs_f64();
    let t = Instant::now();
    run_with(&yaml, json!({}), json!({}), 1).await;
    let serial = t.elapsed().as_secs_f64();
    assert!(parallel < 1.0, "3 × 0.4 s in parallel took {parallel:.2} s");
    assert!(
        serial >= 1.2,
        "--concurrency 1 must serialise: took {serial:.2} s"
    );
}

#[tokio::test]
async fn transform_steps_feed_each_other() {
    let yaml = format!("{HEADER}outputs:\n  shout: <<tasks.t.returnData>>\ntasks:\n  t:\n    type: transform\n    input: <<incident.title>>\n    steps:\n      - {{ command: concatToRear, with: {{ value: \"!\" }} }}\n      - {{ command: concatToRear, with: {{ value: \"?\" }} }}\n");
    let doc = run_with(&yaml, json!({"title": "hello"}), json!({}), 2).await;
    assert_eq!(doc["tasks"]["t"]["returnData"], "hello!?");
    assert_eq!(doc["outputs"]["shout"], "hello!?");
}

#[tokio::test]
async fn incident_data_is_never_evaluated_as_a_template() {
    let evil = "<<connector.apikey>> {{connector.apikey}} <<tasks.a.rawData>>";
    let yaml = format!("{HEADER}outputs:\n  copy: <<tasks.a.returnData>>\ntasks:\n  a: {{ command: concatToRear, input: {{ input: \"Title: <<incident.title>>\", value: <<incident.title>> }} }}\n");
    let doc = run_with(&yaml, json!({"title": evil}), json!({}), 2).await;
    let expected = format!("Title: {evil}{evil}");
    assert_eq!(doc["tasks"]["a"]["returnData"], expected.as_str());
    assert_eq!(doc["outputs"]["copy"], expected.as_str());
    assert!(!doc.to_string().contains("sk-secret-value"));
}

#[tokio::test]
async fn unresolvable_references_fail_the_task_naming_parameter_and_path() {
    let yaml = format!("{HEADER}tasks:\n  a: {{ command: equals, input: {{ input1: <<incident.verdict.score>>, input2: x }} }}\n");
    let doc = run_with(&yaml, json!({"verdict": {"scor": 5}}), json!({}), 2).await;
    assert_eq!(status(&doc, "a"), "Failed");
    assert_eq!(
        doc["tasks"]["a"]["error"]["message"],
        "parameter `input1`: <<incident.verdict.score>>: no key `score` in incident.verdict (it has: scor; did you mean `scor`?)"
    );
}

#[tokio::test]
async fn wrong_types_at_run_time_name_the_parameter_and_value() {
    let yaml = format!(
        "{HEADER}tasks:\n  a: {{ command: sleep, input: {{ seconds: <<incident.n>> }} }}\n"
    );
    let doc = run_with(&yaml, json!({"n": "soon"}), json!({}), 2).await;
    assert_eq!(
        doc["tasks"]["a"]["error"]["message"],
        "parameter `seconds`: expected a number, got the text \"soon\" (value: \"soon\")"
    );
}

#[tokio::test]
async fn text_templates_render_with_handlebars_and_bind_data_safely() {
    let yaml = format!("{HEADER}tasks:\n  ips: {{ command: extractIPs, input: {{ input: <<incident.body>> }}, next: [note, page] }}\n  note:\n    command: formatText\n    input:\n      template: \"<<incident.title>>: {{{{#each tasks.ips.returnData}}}}[{{{{this}}}}]{{{{/each}}}} {{{{incident.title}}}}\"\n  page: {{ command: formatHtml, input: {{ template: \"<p>{{{{incident.title}}}}</p>\" }} }}\n");
    let doc = run_with(
        &yaml,
        json!({"title": "<b>{{connector.apikey}}</b>", "body": "seen 10.0.0.1 and 8.8.8.8"}),
        json!({}),
        2,
    )
    .await;
    assert_eq!(
        doc["tasks"]["note"]["returnData"],
        "<b>{{connector.apikey}}</b>: [10.0.0.1][8.8.8.8] <b>{{connector.apikey}}</b>"
    );
    assert_eq!(
        doc["tasks"]["page"]["returnData"],
        "<p>&lt;b&gt;{{connector.apikey}}&lt;/b&gt;</p>"
    );
    assert!(!doc.to_string().contains("sk-secret-value"));
}

#[tokio::test]
async fn batch_elements_run_concurrently_within_the_bound_and_keep_their_order() {
    // A list given to `seconds` (one number) makes a batch of four 0.3 s sleeps.
    let yaml = format!("{HEADER}tasks:\n  each: {{ command: sleep, input: {{ seconds: <<incident.delays>>, value: \"<<index>>\" }} }}\n");
    let incident = json!({"delays": [0.3, 0.3, 0.3, 0.3]});
    let t = Instant::now();
    let doc = run_with(&yaml, incident.clone(), json!({}), 4).await;
    let parallel = t.elapsed().as_secs_f64();
    assert_eq!(
        doc["tasks"]["each"]["returnData"],
        json!([0, 1, 2, 3]),
        "results keep element order"
    );
    let t = Instant::now();
    run_with(&yaml, incident, json!({}), 1).await;
    let serial = t.elapsed().as_secs_f64();
    assert!(
        parallel < 0.9,
        "4 × 0.3 s with --concurrency 4 took {parallel:.2} s"
    );
    assert!(
        serial >= 1.2,
        "--concurrency 1 must serialise the batch: took {serial:.2} s"
    );
}

/// A list of mocked outputs for a batch task is used in element order, whichever worker runs
/// each element; the last mock repeats.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_mocks_are_drawn_in_element_order() {
    let yaml = format!(
        "{HEADER}tasks:\n  each: {{ command: toUpper, input: {{ input: <<incident.words>> }} }}\n"
    );
    let words: Vec<String> = (0..40).map(|i| format!("w{i}")).collect();
    let mocks: Vec<Value> = (0..30).map(|i| json!({"returnData": i})).collect();
    let doc = run_with(
        &yaml,
        json!({ "words": words }),
        json!({ "each": mocks }),
        8,
    )
    .await;
    let mut expected: Vec<Value> = (0..30).map(Value::from).collect();
    expected.extend(std::iter::repeat_n(Value::from(29), 10));
    assert_eq!(
        doc["tasks"]["each"]["returnData"],
        Value::Array(expected),
        "{doc:#}"
    );
}

/// A slow element holds up only its own slot: with 4 slots, 20 elements where every 4th
/// sleeps 0.8 s take about 1.6 s (two slow ones per slot), not 5 × 0.8 s (a window that waits
/// for its oldest element).
#[tokio::test]
async fn a_slow_batch_element_does_not_hold_up_the_others() {
    let yaml = format!("{HEADER}tasks:\n  each: {{ command: sleep, input: {{ seconds: <<incident.delays>>, value: \"<<index>>\" }} }}\n");
    let delays: Vec<f64> = (0..20)
        .map(|i| if i % 4 == 0 { 0.8 } else { 0.01 })
        .collect();
    let t = Instant::now();
    let doc = run_with(&yaml, json!({ "delays": delays }), json!({}), 4).await;
    let took = t.elapsed().as_secs_f64();
    assert_eq!(
        doc["tasks"]["each"]["returnData"],
        json!((0..20).collect::<Vec<_>>()),
        "results keep element order"
    );
    assert!(
        took < 3.0,
        "20 elements, 5 of 0.8 s, 4 slots: took {took:.2} s"
    );
}

/// A command that panics (a bug in a built-in) fails its own task, whether it panics at once
/// (polled inline by the engine) or after waiting (in its own tokio task); the run goes on.
#[tokio::test]
async fn a_panicking_command_fails_its_task_and_the_run_goes_on() {
    use codeless::commands::{Command, Implementation};
    // A chain, so that each task starts alone and is polled inline first.
    let yaml = "kind: playbook\nname: P\ntasks:\n  start: { command: toUpper, input: { input: a }, next: [now] }\n  now: { command: toLower, input: { input: B }, on_error: continue, next: [later] }\n  later: { command: sleep, input: { seconds: 0.01 }, on_error: continue, next: [fine] }\n  fine: { command: concatToRear, input: { input: a, value: b } }\n";
    let (pb, ws) = playbook_from_str("p.yaml", yaml).unwrap_or_else(|_| panic!("valid"));
    let mut registry = ws.registry.clone();
    let spec_of = |name: &str| registry.get(name).expect(name).spec.clone();
    let (lower, sleep) = (spec_of("toLower"), spec_of("sleep"));
    registry.add(Command {
        spec: lower,
        implementation: Implementation::Utility(|_, _| panic!("boom now")),
    });
    registry.add(Command {
        spec: sleep,
        implementation: Implementation::Async(|_| {
            Box::pin(async {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                panic!("boom later")
            })
        }),
    });
    let (plan, _) = codeless::plan::plan(&pb);
    let r = run_playbook(
        pb.clone(),
        Arc::new(plan),
        Arc::new(registry),
        RunData::default(),
        RunOptions::default(),
    )
    .await;
    let doc = run_document(&pb, &r);
    for t in ["now", "later"] {
        assert_eq!(status(&doc, t), "Failed", "{doc:#}");
        let msg = doc["tasks"][t]["error"]["message"].as_str().unwrap_or("");
        assert!(msg.contains("internal error"), "{t}: {msg}");
    }
    assert_eq!(doc["tasks"]["fine"]["returnData"], "ab");
    assert_eq!(doc["status"], "Partially Successful");
}

/// Runs one task that calls `toUpper`, with `f` in place of its implementation, over
/// `words`; `extra` is added to the task (`timeout: 0.1, `). Returns the run document.
async fn run_upper_batch(
    extra: &str,
    f: codeless::commands::UtilityFn,
    words: Value,
    opts: RunOptions,
) -> Value {
    use codeless::commands::{Command, Implementation};
    let yaml = format!("{HEADER}tasks:\n  each: {{ command: toUpper, {extra}input: {{ input: <<incident.words>> }} }}\n");
    let (pb, ws) = playbook_from_str("p.yaml", &yaml).unwrap_or_else(|_| panic!("valid"));
    let mut registry = ws.registry.clone();
    let spec = registry.get("toUpper").expect("toUpper").spec.clone();
    registry.add(Command {
        spec,
        implementation: Implementation::Utility(f),
    });
    let (plan, _) = codeless::plan::plan(&pb);
    let data = RunData {
        incident: json!({ "words": words }),
        ..RunData::default()
    };
    let r = run_playbook(pb.clone(), Arc::new(plan), Arc::new(registry), data, opts).await;
    run_document(&pb, &r)
}

/// A batch element whose command panics fails alone; the other elements keep their results
/// and order, and the task is Partially Successful.
#[tokio::test]
async fn a_panicking_batch_element_fails_alone() {
    let doc = run_upper_batch(
        "",
        |args, _| match args.text("input")? {
            "boom" => panic!("boom"),
            other => Ok(json!(other.to_uppercase())),
        },
        json!(["a", "boom", "c"]),
        RunOptions::default(),
    )
    .await;
    let task = &doc["tasks"]["each"];
    assert_eq!(task["status"], "Partially Successful", "{doc:#}");
    assert_eq!(task["returnData"], json!(["A", "Failed", "C"]), "{doc:#}");
    let result = task["result"].as_str().unwrap_or("");
    assert!(result.starts_with("2 of 3 items succeeded"), "{result}");
    assert!(
        result.contains("item 1:") && result.contains("internal error"),
        "{result}"
    );
}

/// Batch elements run on worker tasks, so CPU-bound elements run on every runtime thread
/// rather than one after another in the batch's task.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_elements_run_on_every_worker_thread() {
    use std::collections::HashSet;
    use std::sync::Mutex;
    static THREADS: Mutex<Option<HashSet<std::thread::ThreadId>>> = Mutex::new(None);
    let started = Instant::now();
    let doc = run_upper_batch(
        "",
        // Blocks its thread for a while, as a CPU-bound command does.
        |args, _| {
            let mut seen = THREADS.lock().unwrap_or_else(|e| e.into_inner());
            seen.get_or_insert_with(HashSet::new)
                .insert(std::thread::current().id());
            drop(seen);
            std::thread::sleep(std::time::Duration::from_millis(30));
            Ok(json!(args.text("input")?.to_uppercase()))
        },
        json!(["a", "b", "c", "d", "e", "f", "g", "h"]),
        RunOptions::default(),
    )
    .await;
    let took = started.elapsed();
    assert_eq!(
        doc["tasks"]["each"]["returnData"],
        json!(["A", "B", "C", "D", "E", "F", "G", "H"])
    );
    let threads = THREADS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
        .map_or(0, HashSet::len);
    assert!(
        threads >= 2,
        "8 blocking elements ran on {threads} thread(s) in {took:?}"
    );
}

/// When a batch task times out, its workers take no further element, even a worker whose
/// commands never wait (without the stop flag, one went on until tokio's budget of about 128
/// ready operations made it yield).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_batch_starts_no_more_elements() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static STARTED: AtomicUsize = AtomicUsize::new(0);
    let words: Vec<String> = (0..5000).map(|i| format!("w{i}")).collect();
    let opts = RunOptions {
        concurrency: 2,
        ..RunOptions::default()
    };
    let doc = run_upper_batch(
        "timeout: 0.1, ",
        // A command that never waits: it blocks its thread for a millisecond.
        |args, _| {
            STARTED.fetch_add(1, Ordering::Relaxed);
            std::thread::sleep(std::time::Duration::from_millis(1));
            Ok(json!(args.text("input")?.to_uppercase()))
        },
        json!(words),
        opts,
    )
    .await;
    let at_timeout = STARTED.load(Ordering::Relaxed);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let after = STARTED.load(Ordering::Relaxed);
    assert_eq!(status(&doc, "each"), "Failed", "{doc:#}");
    assert!(at_timeout < 5000, "{at_timeout}");
    assert!(
        after - at_timeout <= 4,
        "{} elements started after the timeout",
        after - at_timeout
    );
}

/// Commands finished inline never make the engine wait, yet a cancel is still noticed: a
/// loop of utility commands that would run for minutes stops soon after Ctrl-C, even on a
/// single-threaded runtime where the canceller must get a turn.
#[tokio::test(flavor = "current_thread")]
async fn a_busy_loop_of_inline_commands_still_notices_a_cancel() {
    let yaml = "kind: playbook\nname: Busy\ntasks:\n  start: { command: toUpper, input: { input: a }, next: [poll] }\n  poll: { command: toUpper, input: { input: a }, next: [again] }\n  again:\n    type: conditional\n    command: equals\n    input: { input1: a, input2: b }\n    max_loops: 100000000\n    branches: { \"false\": [poll], \"true\": [done] }\n  done: { command: toUpper, input: { input: a } }\n";
    let (pb, ws) = playbook_from_str("b.yaml", yaml).unwrap_or_else(|_| panic!("valid"));
    let (plan, _) = codeless::plan::plan(&pb);
    let opts = RunOptions {
        limits: codeless::limits::Limits {
            loop_iterations: u32::MAX,
            ..Default::default()
        },
        ..RunOptions::default()
    };
    let cancel = opts.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        cancel.cancel();
    });
    let started = Instant::now();
    let r = run_playbook(
        pb.clone(),
        Arc::new(plan),
        Arc::new(ws.registry.clone()),
        RunData::default(),
        opts,
    )
    .await;
    assert!(r.cancelled);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let doc = run_document(&pb, &r);
    assert!(
        doc["tasks"]["poll"]["runs"].as_u64().unwrap_or(0) > 1,
        "{doc:#}"
    );
    assert_eq!(status(&doc, "done"), "Cancelled", "{doc:#}");
}

/// `\{{` in a text or HTML template is a literal `{{` (Handlebars' own escape), with or without
/// `<<...>>` references in the same text; `\<<` is a literal `<<`.
#[tokio::test]
async fn escaped_braces_in_text_templates_stay_literal() {
    let yaml = "kind: playbook\nname: E\ntasks:\n  a: { command: formatText, input: { template: \"x \\\\{{incident.title}} y\" } }\n  b: { command: formatText, input: { template: \"\\\\{{t}} <<incident.title>> {{incident.title}} \\\\<<z>>\" } }\n  c: { command: formatHtml, input: { template: \"<i>\\\\{{t}}</i> {{incident.title}}\" } }\n";
    let doc = run_with(yaml, json!({"title": "T&"}), json!({}), 4).await;
    assert_eq!(
        doc["tasks"]["a"]["returnData"], "x {{incident.title}} y",
        "{doc:#}"
    );
    assert_eq!(doc["tasks"]["b"]["returnData"], "{{t}} T& T& <<z>>");
    assert_eq!(doc["tasks"]["c"]["returnData"], "<i>{{t}}</i> T&amp;");
}
