//! Reading items through a 1Password Connect server's REST API.

use reqwest::header::{HeaderValue, AUTHORIZATION};
use reqwest::{Response, StatusCode, Url};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::{OpConfig, Reference};
use crate::error::Failure;
use crate::providers::http::{self, Timeouts};
use crate::providers::json;
use crate::value::SecretBytes;

/// Largest accepted list of vaults or items, which hold names, not values.
const LIST_BODY: usize = 1024 * 1024;

/// A client for one Connect server.
pub(super) struct Connect {
    client: reqwest::Client,
    base: Url,
    /// `Bearer TOKEN` in zeroized memory.
    bearer: HeaderValue,
    /// The server for messages.
    server: String,
    timeouts: Timeouts,
}

/// A vault or an item in a list.
#[derive(Deserialize)]
struct Summary {
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    title: Option<String>,
}

/// The parts of a full item that matter here. Other keys are skipped without copying.
#[derive(Deserialize)]
struct Item<'a> {
    #[serde(default)]
    sections: Vec<Section>,
    #[serde(default, borrow)]
    fields: Vec<Field<'a>>,
}

#[derive(Deserialize)]
struct Section {
    id: String,
    #[serde(default)]
    label: Option<String>,
}

#[derive(Deserialize)]
struct Field<'a> {
    #[serde(default)]
    id: String,
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    section: Option<SectionRef>,
    #[serde(default, borrow)]
    value: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct SectionRef {
    id: String,
}

impl Field<'_> {
    fn named(&self, name: &str) -> bool {
        self.id == name || self.label.as_deref() == Some(name)
    }
}

/// Whether `name` has the form of a 1Password id: 26 lower-case letters and digits.
fn is_id(name: &str) -> bool {
    name.len() == 26
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// `name` quoted for a Connect filter expression.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
}

impl Connect {
    pub(super) fn new(host: &str, token: &str, config: &OpConfig) -> Result<Self, Failure> {
        let base = http::parse_base("OP_CONNECT_HOST", host)?;
        let bearer = http::secret_header("Bearer ", token.as_bytes()).ok_or_else(|| {
            Failure::Provider(
                "OP_CONNECT_TOKEN has characters not allowed in an HTTP header".into(),
            )
        })?;
        let timeouts = Timeouts {
            connect: config.connect_timeout,
            request: config.request_timeout,
        };
        let client = http::client(timeouts, None).map_err(Failure::Provider)?;
        Ok(Self {
            client,
            server: format!("1Password Connect at {}", http::origin(&base)),
            base,
            bearer,
            timeouts,
        })
    }

    /// Reads the field named by `reference`.
    pub(super) async fn read(
        &self,
        reference: &Reference<'_>,
        limit: usize,
    ) -> Result<SecretBytes, Failure> {
        let vault = self.vault_id(reference.vault).await?;
        let item = self.item_id(&vault, reference).await?;
        let what = format!("item {:?} in vault {:?}", reference.item, reference.vault);
        let mut response = self
            .get(http::join(
                &self.base,
                ["v1", "vaults", &vault, "items", &item],
            ))
            .await?;
        if !response.status().is_success() {
            return Err(self.status_failure(&mut response, &what).await);
        }
        let cap = limit.saturating_mul(6).saturating_add(LIST_BODY);
        let body = http::read_body(&mut response, cap, &self.server, self.timeouts).await?;
        let text = std::str::from_utf8(body.expose())
            .map_err(|_| Failure::Provider(format!("the {what} is not UTF-8 JSON")))?;
        let item: Item<'_> = serde_json::from_str(text).map_err(|e| unexpected(&what, &e))?;
        let field = pick(&item, reference, &what)?;
        match field.value {
            Some(raw) => json::value(raw, limit),
            None => Ok(SecretBytes::new(b"")),
        }
    }

    async fn get(&self, url: Url) -> Result<Response, Failure> {
        self.client
            .get(url)
            .header(AUTHORIZATION, self.bearer.clone())
            .send()
            .await
            .map_err(|e| http::transport_failure(&e, &self.server, self.timeouts))
    }

    /// The id of the vault named (or identified by) `vault`.
    async fn vault_id(&self, vault: &str) -> Result<String, Failure> {
        if is_id(vault) {
            return Ok(vault.to_owned());
        }
        let mut url = http::join(&self.base, ["v1", "vaults"]);
        url.query_pairs_mut()
            .append_pair("filter", &format!("name eq {}", quoted(vault)));
        let found = self
            .list(url, &format!("the vaults named {vault:?}"))
            .await?;
        let ids: Vec<String> = found
            .into_iter()
            .filter(|v| v.name.as_deref() == Some(vault))
            .map(|v| v.id)
            .collect();
        match &ids[..] {
            [id] => Ok(id.clone()),
            [] => Err(Failure::NotFound(format!(
                "no vault named {vault:?} is visible to this Connect token"
            ))),
            many => Err(Failure::Provider(format!(
                "{} vaults are named {vault:?}: use the vault's id",
                many.len()
            ))),
        }
    }

    /// The id of the item named (or identified by) the reference's item, in vault `vault_id`.
    async fn item_id(&self, vault_id: &str, reference: &Reference<'_>) -> Result<String, Failure> {
        let item = reference.item;
        if is_id(item) {
            return Ok(item.to_owned());
        }
        let mut url = http::join(&self.base, ["v1", "vaults", vault_id, "items"]);
        url.query_pairs_mut()
            .append_pair("filter", &format!("title eq {}", quoted(item)));
        let what = format!("the items titled {item:?} in vault {:?}", reference.vault);
        let found = self.list(url, &what).await?;
        let ids: Vec<String> = found
            .into_iter()
            .filter(|i| i.title.as_deref() == Some(item))
            .map(|i| i.id)
            .collect();
        match &ids[..] {
            [id] => Ok(id.clone()),
            [] => Err(Failure::NotFound(format!(
                "no item titled {item:?} in vault {:?}",
                reference.vault
            ))),
            many => Err(Failure::Provider(format!(
                "{} items are titled {item:?} in vault {:?}: use the item's id",
                many.len(),
                reference.vault
            ))),
        }
    }

    async fn list(&self, url: Url, what: &str) -> Result<Vec<Summary>, Failure> {
        let mut response = self.get(url).await?;
        if !response.status().is_success() {
            return Err(self.status_failure(&mut response, what).await);
        }
        let body = http::read_body(&mut response, LIST_BODY, &self.server, self.timeouts)
            .await
            .map_err(|failure| match failure {
                Failure::TooLarge => Failure::Provider(format!("the list of {what} is over 1 MiB")),
                other => other,
            })?;
        serde_json::from_slice(body.expose()).map_err(|e| unexpected(what, &e))
    }

    /// Maps an error answer to a failure kind, with Connect's message.
    async fn status_failure(&self, response: &mut Response, what: &str) -> Failure {
        #[derive(Deserialize)]
        struct Message {
            #[serde(default)]
            message: String,
        }
        let status = response.status();
        let text = http::error_text(response).await;
        let message = match serde_json::from_str::<Message>(&text) {
            Ok(m) => http::short(&m.message),
            Err(_) => http::short(&text),
        };
        let detail = if message.is_empty() {
            String::new()
        } else {
            format!(": {message}")
        };
        let code = status.as_u16();
        match status {
            StatusCode::NOT_FOUND => Failure::NotFound(format!("{what} not found (404{detail})")),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Failure::PermissionDenied(format!(
                "{} refused access to {what} ({code}{detail})",
                self.server
            )),
            _ if code == 429 || code >= 502 => Failure::Unreachable(format!(
                "{} could not serve {what} ({code}{detail})",
                self.server
            )),
            _ => Failure::Provider(format!("{} answered {code} to {what}{detail}", self.server)),
        }
    }
}

/// The one field of `item` that the reference names.
fn pick<'i, 'a>(
    item: &'i Item<'a>,
    reference: &Reference<'_>,
    what: &str,
) -> Result<&'i Field<'a>, Failure> {
    let wanted = reference.field;
    let sections: Option<Vec<&str>> = reference.section.map(|name| {
        item.sections
            .iter()
            .filter(|s| s.id == name || s.label.as_deref() == Some(name))
            .map(|s| s.id.as_str())
            .collect()
    });
    if let (Some(name), Some(ids)) = (reference.section, &sections) {
        if ids.is_empty() {
            let labels: Vec<String> = item
                .sections
                .iter()
                .filter_map(|s| s.label.as_deref().filter(|l| !l.is_empty()))
                .map(|l| format!("{l:?}"))
                .collect();
            return Err(Failure::NotFound(format!(
                "the {what} has no section {name:?} (its sections: {})",
                list(labels)
            )));
        }
    }
    let in_section = |field: &Field<'_>| match &sections {
        None => true,
        Some(ids) => field
            .section
            .as_ref()
            .is_some_and(|s| ids.contains(&s.id.as_str())),
    };
    let candidates: Vec<&Field<'a>> = item
        .fields
        .iter()
        .filter(|f| in_section(f) && f.named(wanted))
        .collect();
    let by_id: Vec<&Field<'a>> = candidates
        .iter()
        .copied()
        .filter(|f| f.id == wanted)
        .collect();
    match (&candidates[..], &by_id[..]) {
        ([one], _) | (_, [one]) => Ok(one),
        ([], _) => {
            let labels: Vec<String> = item
                .fields
                .iter()
                .filter(|f| in_section(f))
                .map(|f| format!("{:?}", f.label.as_deref().unwrap_or(&f.id)))
                .collect();
            let place = match reference.section {
                Some(section) => format!("section {section:?} of the {what}"),
                None => format!("the {what}"),
            };
            Err(Failure::NotFound(format!(
                "{place} has no field {wanted:?} (its fields: {})",
                list(labels)
            )))
        }
        (many, _) => Err(Failure::Provider(format!(
            "{} fields of the {what} are labelled {wanted:?}: name the section \
             (op://VAULT/ITEM/SECTION/FIELD) or use the field's id",
            many.len()
        ))),
    }
}

fn list(names: Vec<String>) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

/// A failure for an answer that is not the expected JSON; serde's message is left out, as it
/// may quote a value.
fn unexpected(what: &str, err: &serde_json::Error) -> Failure {
    Failure::Provider(format!(
        "1Password Connect answered with unexpected JSON for {what} (at line {}, column {})",
        err.line(),
        err.column()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_26_lower_case_letters_and_digits() {
        assert!(is_id("hfnjvi6aymbsnfc2xeeoheizda"));
        assert!(!is_id("Hfnjvi6aymbsnfc2xeeoheizda"));
        assert!(!is_id("Private"));
    }

    #[test]
    fn filter_names_are_quoted() {
        assert_eq!(quoted(r#"a "b" \c"#), r#""a \"b\" \\c""#);
    }
}
