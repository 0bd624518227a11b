//! Text utilities: comparison, search, concatenation, splitting, case, regex.

use super::{
    compile_regex, quote, utility, Args, ParamSpec, ParamType, Registry, UtilityContext,
    MAX_LIST_LEN, MAX_OUTPUT_LEN,
};
use serde_json::{json, Value};

const CAT: &str = "Text";

fn input() -> ParamSpec {
    ParamSpec::new("input", "Input", ParamType::Text).required()
}

pub(super) fn register(r: &mut Registry) {
    utility("formatText", "Format Text", CAT, format_rendered)
        .describe("Renders a text template: `<<...>>` references and Handlebars (`{{#each tasks.x.returnData}}...{{/each}}`, helpers json, jsonpath, split, first, last, contains_key).")
        .input(
            ParamSpec::new("template", "Template", ParamType::TextTemplate)
                .required()
                .sample(json!("Alert {{incident.title}} has {{#each incident.ips}}{{this}} {{/each}}")),
        )
        .register(r);
    utility("formatHtml", "Format HTML", CAT, format_rendered)
        .describe(
            "Renders an HTML template like Format Text, escaping every inserted value for HTML.",
        )
        .input(
            ParamSpec::new("template", "Template", ParamType::HtmlTemplate)
                .required()
                .sample(json!("<p>{{incident.title}}</p>")),
        )
        .register(r);
    utility("equals", "Text Equals to", CAT, equals)
        .describe("Checks if the two input texts are identical.")
        .input(
            ParamSpec::new("input1", "Input 1", ParamType::Text)
                .required()
                .sample(json!("SOAR")),
        )
        .input(
            ParamSpec::new("input2", "Input 2", ParamType::Text)
                .required()
                .sample(json!("SOAR")),
        )
        .returns("boolean")
        .conditional()
        .register(r);
    utility("contains", "Contains Text", CAT, contains)
        .describe("Checks if the input text contains the specified text.")
        .input(input().sample(json!("Welcome to use the SOAR product")))
        .input(
            ParamSpec::new("search_value", "Search Value", ParamType::Text)
                .required()
                .sample(json!("SOAR")),
        )
        .returns("boolean")
        .conditional()
        .register(r);
    utility("concatToRear", "Concat Text to Rear", CAT, concat_to_rear)
        .describe("Appends a text to the end of the input text.")
        .input(input().sample(json!("Join ")))
        .input(
            ParamSpec::new("value", "Value", ParamType::Text)
                .required()
                .sample(json!("Text")),
        )
        .register(r);
    utility(
        "concatToFront",
        "Concat Text to Front",
        CAT,
        concat_to_front,
    )
    .describe("Puts a text in front of the input text.")
    .input(input().sample(json!("Text")))
    .input(
        ParamSpec::new("value", "Value", ParamType::Text)
            .required()
            .sample(json!("Join ")),
    )
    .register(r);
    utility("concat", "Concat Texts", CAT, concat)
        .describe("Concatenates the texts of a list, with an optional separator between them.")
        .input(
            ParamSpec::new("input", "Input", ParamType::TextArray)
                .required()
                .sample(json!(["ab", "cd"])),
        )
        .input(
            ParamSpec::new("separator", "Separator", ParamType::Text)
                .default(json!(""))
                .sample(json!("-")),
        )
        .register(r);
    utility("join", "Join Text Array", CAT, join)
        .describe("Joins the texts of a list with a separator (a comma by default).")
        .input(
            ParamSpec::new("input", "Input", ParamType::TextArray)
                .required()
                .sample(json!(["1.1.1.1", "8.8.8.8"])),
        )
        .input(
            ParamSpec::new("separator", "Separator", ParamType::Text)
                .default(json!(","))
                .sample(json!(", ")),
        )
        .register(r);
    utility("split", "Split Text", CAT, split)
        .describe(
            "Splits the input text at every occurrence of the separator. An empty separator \
             splits the text into its characters.",
        )
        .input(input().sample(json!("a,b,c")))
        .input(
            ParamSpec::new("separator", "Separator", ParamType::Text)
                .default(json!(","))
                .sample(json!(",")),
        )
        .input(
            ParamSpec::new("remove_empty", "Remove Empty", ParamType::Boolean)
                .default(json!(false))
                .describe("Drop empty parts (e.g. from doubled separators)."),
        )
        .returns("text_array")
        .register(r);
    utility("replace", "Replace Text", CAT, replace)
        .describe("Replaces every occurrence of a text in the input text.")
        .input(input().sample(json!("a-b-c")))
        .input(
            ParamSpec::new("search", "Search", ParamType::Text)
                .required()
                .sample(json!("-")),
        )
        .input(
            ParamSpec::new("replacement", "Replacement", ParamType::Text)
                .default(json!(""))
                .sample(json!("+")),
        )
        .register(r);
    utility("regexMatch", "Regex Match", CAT, regex_match)
        .describe("Checks if the input text matches a regular expression (anywhere in the text).")
        .input(input().sample(json!("Error 404: not found")))
        .input(pattern().sample(json!("\\d{3}")))
        .returns("boolean")
        .conditional()
        .register(r);
    utility("regexExtract", "Regex Extract", CAT, regex_extract)
        .describe(
            "Returns every match of a regular expression in the input text; with a group \
             number, the text of that capture group in each match.",
        )
        .input(input().sample(json!("user=alice user=bob")))
        .input(pattern().sample(json!("user=(\\w+)")))
        .input(
            ParamSpec::new("group", "Group", ParamType::Number)
                .default(json!(0))
                .sample(json!(1))
                .describe("Capture group number; 0 is the whole match."),
        )
        .returns("text_array")
        .register(r);
    utility("regexReplace", "Regex Replace", CAT, regex_replace)
        .describe(
            "Replaces every match of a regular expression; the replacement may refer to capture \
             groups as $1 or ${name}.",
        )
        .input(input().sample(json!("2026-01-02")))
        .input(pattern().sample(json!("(\\d+)-(\\d+)-(\\d+)")))
        .input(
            ParamSpec::new("replacement", "Replacement", ParamType::Text)
                .default(json!(""))
                .sample(json!("$3/$2/$1")),
        )
        .register(r);
    utility("toUpper", "To Upper Case", CAT, to_upper)
        .describe("Converts the input text to upper case.")
        .input(input().sample(json!("soar")))
        .register(r);
    utility("toLower", "To Lower Case", CAT, to_lower)
        .describe("Converts the input text to lower case.")
        .input(input().sample(json!("SOAR")))
        .register(r);
    utility("trim", "Trim Text", CAT, trim)
        .describe("Removes leading and trailing whitespace from the input text.")
        .input(input().sample(json!("  SOAR  ")))
        .register(r);
    utility("textLength", "Text Length", CAT, text_length)
        .describe("Counts the characters of the input text.")
        .input(input().sample(json!("SOAR")))
        .returns("number")
        .register(r);
    utility("startsWith", "Starts With", CAT, starts_with)
        .describe("Checks if the input text starts with the specified text.")
        .input(input().sample(json!("https://example.com")))
        .input(
            ParamSpec::new("prefix", "Prefix", ParamType::Text)
                .required()
                .sample(json!("https://")),
        )
        .returns("boolean")
        .conditional()
        .register(r);
    utility("endsWith", "Ends With", CAT, ends_with)
        .describe("Checks if the input text ends with the specified text.")
        .input(input().sample(json!("invoice.exe")))
        .input(
            ParamSpec::new("suffix", "Suffix", ParamType::Text)
                .required()
                .sample(json!(".exe")),
        )
        .returns("boolean")
        .conditional()
        .register(r);
    utility("isEmpty", "Is Empty Text", CAT, is_empty)
        .describe("Checks if the input text is missing, empty or only whitespace.")
        .input(ParamSpec::new("input", "Input", ParamType::Text).sample(json!("  ")))
        .returns("boolean")
        .conditional()
        .register(r);
    utility("substring", "Substring", CAT, substring)
        .describe(
            "Takes part of the input text by character position. A negative start counts from \
             the end; without a length, takes the rest of the text.",
        )
        .input(input().sample(json!("Hello SOAR")))
        .input(
            ParamSpec::new("start", "Start", ParamType::Number)
                .default(json!(0))
                .sample(json!(6)),
        )
        .input(ParamSpec::new("length", "Length", ParamType::Number).sample(json!(4)))
        .register(r);
    utility("textIndexOf", "Text Index Of", CAT, text_index_of)
        .describe(
            "The character position of the first occurrence of a text in the input text, or -1.",
        )
        .input(input().sample(json!("Hello SOAR")))
        .input(
            ParamSpec::new("search_value", "Search Value", ParamType::Text)
                .required()
                .sample(json!("SOAR")),
        )
        .returns("number")
        .register(r);
    utility("repeatText", "Repeat Text", CAT, repeat_text)
        .describe("Repeats the input text a number of times.")
        .input(input().sample(json!("ab")))
        .input(
            ParamSpec::new("count", "Count", ParamType::Number)
                .required()
                .sample(json!(3)),
        )
        .register(r);
}

fn pattern() -> ParamSpec {
    ParamSpec::new("pattern", "Pattern", ParamType::Text)
        .required()
        .describe("A regular expression (Rust `regex` syntax, close to PCRE without look-around).")
}

fn too_long(what: &str) -> String {
    format!("the result of {what} would be longer than {MAX_OUTPUT_LEN} bytes")
}

fn equals(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    Ok(Value::Bool(a.text("input1")? == a.text("input2")?))
}

fn contains(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    Ok(Value::Bool(
        a.text("input")?.contains(a.text("search_value")?),
    ))
}

fn concat_to_rear(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    Ok(Value::String(format!(
        "{}{}",
        a.text("input")?,
        a.text("value")?
    )))
}

fn concat_to_front(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    Ok(Value::String(format!(
        "{}{}",
        a.text("value")?,
        a.text("input")?
    )))
}

fn concat(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    joined(a, "")
}

fn join(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    joined(a, ",")
}

fn joined(a: &Args, default_separator: &str) -> Result<Value, String> {
    let parts = a.text_array("input")?;
    let sep = a.opt_text("separator")?.unwrap_or(default_separator);
    let total: usize = parts.iter().map(String::len).sum::<usize>()
        + sep.len().saturating_mul(parts.len().saturating_sub(1));
    if total > MAX_OUTPUT_LEN {
        return Err(too_long("joining"));
    }
    Ok(Value::String(parts.join(sep)))
}

fn split(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    let input = a.text("input")?;
    let sep = a.opt_text("separator")?.unwrap_or(",");
    let remove_empty = a.opt_boolean("remove_empty")?.unwrap_or(false);
    let parts: Vec<Value> = if sep.is_empty() {
        input
            .chars()
            .take(MAX_LIST_LEN + 1)
            .map(|c| Value::String(c.to_string()))
            .collect()
    } else {
        input
            .split(sep)
            .filter(|p| !remove_empty || !p.is_empty())
            .take(MAX_LIST_LEN + 1)
            .map(|p| Value::String(p.to_owned()))
            .collect()
    };
    if parts.len() > MAX_LIST_LEN {
        return Err(format!("splitting gives more than {MAX_LIST_LEN} parts"));
    }
    Ok(Value::Array(parts))
}

fn replace(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    let input = a.text("input")?;
    let search = a.text("search")?;
    let replacement = a.opt_text("replacement")?.unwrap_or("");
    if search.is_empty() {
        return Err("parameter `search` must not be empty".to_owned());
    }
    let count = input.matches(search).count();
    let size = (input.len() - count * search.len())
        .saturating_add(count.saturating_mul(replacement.len()));
    if size > MAX_OUTPUT_LEN {
        return Err(too_long("the replacement"));
    }
    Ok(Value::String(input.replace(search, replacement)))
}

fn regex_match(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    let re = compile_regex("pattern", a.text("pattern")?)?;
    Ok(Value::Bool(re.is_match(a.text("input")?)))
}

fn regex_extract(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    let input = a.text("input")?;
    let re = compile_regex("pattern", a.text("pattern")?)?;
    let group = a.opt_int("group")?.unwrap_or(0);
    let groups = re.captures_len() - 1;
    let group = usize::try_from(group)
        .ok()
        .filter(|g| *g <= groups)
        .ok_or_else(|| {
            format!("parameter `group` is {group} but the pattern has {groups} capture group(s)")
        })?;
    let found: Vec<Value> = re
        .captures_iter(input)
        .filter_map(|c| c.get(group))
        .take(MAX_LIST_LEN + 1)
        .map(|m| Value::String(m.as_str().to_owned()))
        .collect();
    if found.len() > MAX_LIST_LEN {
        return Err(format!(
            "the pattern matches more than {MAX_LIST_LEN} times"
        ));
    }
    Ok(Value::Array(found))
}

fn regex_replace(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    let input = a.text("input")?;
    let re = compile_regex("pattern", a.text("pattern")?)?;
    let replacement = a.opt_text("replacement")?.unwrap_or("");
    // Expanded by hand (not `replace_all`) so the size of the result can be bounded as it grows.
    let mut out = String::new();
    let mut last = 0;
    for caps in re.captures_iter(input) {
        let Some(m) = caps.get(0) else { continue };
        out.push_str(input.get(last..m.start()).unwrap_or_default());
        caps.expand(replacement, &mut out);
        last = m.end();
        if out.len() > MAX_OUTPUT_LEN {
            return Err(too_long("the replacement"));
        }
    }
    out.push_str(input.get(last..).unwrap_or_default());
    if out.len() > MAX_OUTPUT_LEN {
        return Err(too_long("the replacement"));
    }
    Ok(Value::String(out))
}

fn to_upper(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    Ok(Value::String(a.text("input")?.to_uppercase()))
}

fn to_lower(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    Ok(Value::String(a.text("input")?.to_lowercase()))
}

fn trim(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    Ok(Value::String(a.text("input")?.trim().to_owned()))
}

fn text_length(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    Ok(Value::from(a.text("input")?.chars().count()))
}

fn starts_with(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    Ok(Value::Bool(a.text("input")?.starts_with(a.text("prefix")?)))
}

fn ends_with(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    Ok(Value::Bool(a.text("input")?.ends_with(a.text("suffix")?)))
}

fn is_empty(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    Ok(Value::Bool(
        a.opt_text("input")?.is_none_or(|s| s.trim().is_empty()),
    ))
}

fn substring(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    let input = a.text("input")?;
    let start = a.opt_int("start")?.unwrap_or(0);
    let length = a.opt_int("length")?;
    if let Some(l) = length.filter(|l| *l < 0) {
        return Err(format!("parameter `length` must not be negative, got {l}"));
    }
    let count = input.chars().count() as i64;
    let from = if start < 0 {
        (count + start).max(0)
    } else {
        start.min(count)
    };
    let take = length.unwrap_or(count).min(count - from);
    let out: String = input
        .chars()
        .skip(usize::try_from(from).unwrap_or(0))
        .take(usize::try_from(take).unwrap_or(0))
        .collect();
    Ok(Value::String(out))
}

fn text_index_of(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    let input = a.text("input")?;
    let search = a.text("search_value")?;
    Ok(match input.find(search) {
        Some(byte) => Value::from(input.get(..byte).unwrap_or_default().chars().count()),
        None => Value::from(-1),
    })
}

fn repeat_text(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    let input = a.text("input")?;
    let count = a.int("count")?;
    let count = usize::try_from(count)
        .map_err(|_| format!("parameter `count` must not be negative, got {count}"))?;
    if input.len().saturating_mul(count) > MAX_OUTPUT_LEN {
        return Err(format!(
            "parameter `count` is too large: repeating {} {count} times would exceed {MAX_OUTPUT_LEN} bytes",
            quote(input)
        ));
    }
    Ok(Value::String(input.repeat(count)))
}

/// The engine renders template parameters before the call; the command passes the text on.
fn format_rendered(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    Ok(Value::String(a.text("template")?.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{err, ok};
    use serde_json::json;

    #[test]
    fn seed_commands() {
        assert_eq!(
            ok("equals", json!({"input1": "SOAR", "input2": "SOAR"})),
            json!(true)
        );
        assert_eq!(
            ok("equals", json!({"input1": "SOAR", "input2": "soar"})),
            json!(false)
        );
        assert_eq!(
            ok("equals", json!({"input1": 5, "input2": "5"})),
            json!(true)
        );
        assert_eq!(
            ok(
                "contains",
                json!({"input": "Welcome to use the SOAR product", "search_value": "SOAR"})
            ),
            json!(true)
        );
        assert_eq!(
            ok("concatToRear", json!({"input": "Join ", "value": "Text"})),
            json!("Join Text")
        );
        assert_eq!(
            ok("concatToFront", json!({"input": "Text", "value": "Join "})),
            json!("Join Text")
        );
        assert_eq!(
            err("equals", json!({"input1": "a"})),
            "parameter `input2` is required"
        );
    }

    #[test]
    fn concat_join_split() {
        assert_eq!(ok("concat", json!({"input": ["ab", "cd"]})), json!("abcd"));
        assert_eq!(
            ok("concat", json!({"input": ["ab", 1], "separator": "-"})),
            json!("ab-1")
        );
        assert_eq!(ok("join", json!({"input": ["a", "b"]})), json!("a,b"));
        assert_eq!(
            ok(
                "join",
                json!({"input": "[\"a\",\"b\"]", "separator": " | "})
            ),
            json!("a | b")
        );
        assert_eq!(ok("join", json!({"input": []})), json!(""));
        assert_eq!(
            ok("split", json!({"input": "a,b,,c"})),
            json!(["a", "b", "", "c"])
        );
        assert_eq!(
            ok("split", json!({"input": "a,b,,c", "remove_empty": "true"})),
            json!(["a", "b", "c"])
        );
        assert_eq!(
            ok("split", json!({"input": "a::b", "separator": "::"})),
            json!(["a", "b"])
        );
        assert_eq!(
            ok("split", json!({"input": "hé", "separator": ""})),
            json!(["h", "é"])
        );
        assert_eq!(ok("split", json!({"input": ""})), json!([""]));
        let many = ",".repeat(super::MAX_LIST_LEN);
        assert_eq!(
            err("split", json!({ "input": many })),
            format!("splitting gives more than {} parts", super::MAX_LIST_LEN)
        );
    }

    #[test]
    fn replace_all_occurrences() {
        assert_eq!(
            ok(
                "replace",
                json!({"input": "a-b-c", "search": "-", "replacement": "+"})
            ),
            json!("a+b+c")
        );
        assert_eq!(
            ok("replace", json!({"input": "a-b-c", "search": "-"})),
            json!("abc")
        );
        assert_eq!(
            err("replace", json!({"input": "abc", "search": ""})),
            "parameter `search` must not be empty"
        );
        let big = "x".repeat(20_000);
        let e = err(
            "replace",
            json!({"input": big, "search": "x", "replacement": "y".repeat(1000)}),
        );
        assert!(e.contains("would be longer than"), "{e}");
    }

    #[test]
    fn regexes() {
        assert_eq!(
            ok(
                "regexMatch",
                json!({"input": "Error 404", "pattern": "\\d{3}"})
            ),
            json!(true)
        );
        assert_eq!(
            ok("regexMatch", json!({"input": "Error", "pattern": "^\\d+$"})),
            json!(false)
        );
        let e = err("regexMatch", json!({"input": "x", "pattern": "(unclosed"}));
        assert!(
            e.starts_with("parameter `pattern` is not a valid regular expression:"),
            "{e}"
        );
        let e = err(
            "regexMatch",
            json!({"input": "x", "pattern": "\\w{1000}{1000}"}),
        );
        assert!(
            e.starts_with("parameter `pattern` is not a valid regular expression:"),
            "{e}"
        );
        assert_eq!(
            ok(
                "regexExtract",
                json!({"input": "user=alice user=bob", "pattern": "user=\\w+"})
            ),
            json!(["user=alice", "user=bob"])
        );
        assert_eq!(
            ok(
                "regexExtract",
                json!({"input": "user=alice user=bob", "pattern": "user=(\\w+)", "group": 1})
            ),
            json!(["alice", "bob"])
        );
        assert_eq!(
            ok(
                "regexExtract",
                json!({"input": "a1 b", "pattern": "[a-z](\\d)?", "group": "1"})
            ),
            json!(["1"])
        );
        assert_eq!(
            err(
                "regexExtract",
                json!({"input": "x", "pattern": "(x)", "group": 2})
            ),
            "parameter `group` is 2 but the pattern has 1 capture group(s)"
        );
        assert_eq!(
            err(
                "regexExtract",
                json!({"input": "x", "pattern": "(x)", "group": -1})
            ),
            "parameter `group` is -1 but the pattern has 1 capture group(s)"
        );
        assert!(err(
            "regexExtract",
            json!({"input": "x", "pattern": "x", "group": 1.5})
        )
        .contains("must be a whole number"));
        assert_eq!(
            ok(
                "regexReplace",
                json!({"input": "2026-01-02", "pattern": "(\\d+)-(\\d+)-(\\d+)", "replacement": "$3/$2/$1"})
            ),
            json!("02/01/2026")
        );
        assert_eq!(
            ok("regexReplace", json!({"input": "a1b22", "pattern": "\\d+"})),
            json!("ab")
        );
        let e = err(
            "regexReplace",
            json!({"input": "x".repeat(20_000), "pattern": "x+", "replacement": "$0".repeat(1000)}),
        );
        assert!(e.contains("would be longer than"), "{e}");
    }

    #[test]
    fn case_trim_length_affixes() {
        assert_eq!(ok("toUpper", json!({"input": "soar é"})), json!("SOAR É"));
        assert_eq!(ok("toLower", json!({"input": "SOAR"})), json!("soar"));
        assert_eq!(ok("trim", json!({"input": "  a b \n"})), json!("a b"));
        assert_eq!(ok("textLength", json!({"input": "héllo"})), json!(5));
        assert_eq!(
            ok(
                "startsWith",
                json!({"input": "https://x", "prefix": "https://"})
            ),
            json!(true)
        );
        assert_eq!(
            ok("endsWith", json!({"input": "a.exe", "suffix": ".pdf"})),
            json!(false)
        );
        assert_eq!(ok("isEmpty", json!({"input": " \t"})), json!(true));
        assert_eq!(ok("isEmpty", json!({})), json!(true));
        assert_eq!(ok("isEmpty", json!({"input": "x"})), json!(false));
    }

    #[test]
    fn substrings_and_positions() {
        assert_eq!(
            ok("substring", json!({"input": "Hello SOAR", "start": 6})),
            json!("SOAR")
        );
        assert_eq!(
            ok(
                "substring",
                json!({"input": "Hello SOAR", "start": 0, "length": 5})
            ),
            json!("Hello")
        );
        assert_eq!(
            ok(
                "substring",
                json!({"input": "Hello SOAR", "start": -4, "length": 2})
            ),
            json!("SO")
        );
        assert_eq!(
            ok(
                "substring",
                json!({"input": "héllo", "start": 1, "length": 100})
            ),
            json!("éllo")
        );
        assert_eq!(
            ok("substring", json!({"input": "abc", "start": 10})),
            json!("")
        );
        assert_eq!(
            ok(
                "substring",
                json!({"input": "abc", "start": -10, "length": 1})
            ),
            json!("a")
        );
        assert_eq!(
            err("substring", json!({"input": "abc", "length": -1})),
            "parameter `length` must not be negative, got -1"
        );
        assert_eq!(
            ok(
                "textIndexOf",
                json!({"input": "héllo SOAR", "search_value": "SOAR"})
            ),
            json!(6)
        );
        assert_eq!(
            ok("textIndexOf", json!({"input": "abc", "search_value": "z"})),
            json!(-1)
        );
        assert_eq!(
            ok("repeatText", json!({"input": "ab", "count": 3})),
            json!("ababab")
        );
        assert_eq!(
            ok("repeatText", json!({"input": "ab", "count": 0})),
            json!("")
        );
        assert!(err("repeatText", json!({"input": "ab", "count": 1e15}))
            .contains("parameter `count` is too large"));
        assert!(
            err("repeatText", json!({"input": "ab", "count": -2})).contains("must not be negative")
        );
    }
}
