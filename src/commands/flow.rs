//! Flow utilities: waiting and failing on purpose (for pacing API calls and guarding flows).

use super::{
    Args, Command, CommandSpec, Feature, Implementation, Lifecycle, ParamSpec, ParamType, Registry,
    UtilityContext,
};
use serde_json::{json, Value};
use std::future::Future;
use std::pin::Pin;

/// The longest `sleep` accepted, in seconds.
pub const MAX_SLEEP_SECONDS: f64 = crate::util::MAX_WAIT_SECONDS;

pub(super) fn register(r: &mut Registry) {
    r.add(Command {
        spec: CommandSpec {
            name: "sleep".into(),
            display: "Sleep".into(),
            category: "Flow".into(),
            description: "Waits the given number of seconds, then passes its input on unchanged."
                .into(),
            features: vec![Feature::Command, Feature::Transform],
            inputs: vec![
                ParamSpec::new("seconds", "Seconds", ParamType::Number)
                    .required()
                    .sample(json!(5)),
                ParamSpec::new("value", "Value", ParamType::Any)
                    .describe("Returned unchanged after the wait."),
            ],
            key_fields: Vec::new(),
            status: Lifecycle::Live,
            returns: "any".into(),
        },
        implementation: Implementation::Async(sleep),
    });
    super::utility("fail", "Fail", "Flow", fail)
        .describe("Always fails with the given message (guards a branch that must not be reached).")
        .input(
            ParamSpec::new("message", "Message", ParamType::Text)
                .required()
                .sample(json!("No verdict could be reached")),
        )
        .features(&[Feature::Command])
        .register(r);
}

fn sleep(a: Args) -> Pin<Box<dyn Future<Output = Result<Value, String>> + Send>> {
    Box::pin(async move {
        let secs = a.number("seconds")?;
        if !(0.0..=MAX_SLEEP_SECONDS).contains(&secs) {
            return Err(format!(
                "parameter `seconds` must be between 0 and {MAX_SLEEP_SECONDS}, got {secs}"
            ));
        }
        tokio::time::sleep(std::time::Duration::from_secs_f64(secs)).await;
        Ok(a.value("value").clone())
    })
}

fn fail(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    Err(a.text("message")?.to_owned())
}
