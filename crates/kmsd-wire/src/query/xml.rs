//! A small XML writer for awsQuery responses: the `<OpResponse>` envelope with its
//! `<OpResult>` and `ResponseMetadata`, escaped text, `member` lists, ISO-8601 dates and
//! URL-encoded (RFC 3986) policy documents as AWS sends them.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::error::xml_escape;

/// Everything but RFC 3986 unreserved characters is percent-encoded.
const RFC3986: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A policy document as IAM returns it: URL-encoded JSON text.
pub fn url_encode(doc: &str) -> String {
    utf8_percent_encode(doc, RFC3986).to_string()
}

/// An XML fragment under construction.
#[derive(Debug, Default)]
pub struct Xml {
    out: String,
}

impl Xml {
    /// An empty fragment.
    pub fn new() -> Xml {
        Xml::default()
    }

    /// `<tag>`
    pub fn open(&mut self, tag: &str) -> &mut Self {
        self.out.push('<');
        self.out.push_str(tag);
        self.out.push('>');
        self
    }

    /// `</tag>`
    pub fn close(&mut self, tag: &str) -> &mut Self {
        self.out.push_str("</");
        self.out.push_str(tag);
        self.out.push('>');
        self
    }

    /// `<tag>escaped text</tag>`
    pub fn text(&mut self, tag: &str, value: &str) -> &mut Self {
        self.open(tag);
        self.out.push_str(&xml_escape(value));
        self.close(tag)
    }

    /// `<tag>text</tag>` when there is a value.
    pub fn opt(&mut self, tag: &str, value: Option<&str>) -> &mut Self {
        if let Some(v) = value {
            self.text(tag, v);
        }
        self
    }

    /// `<tag>2024-01-01T00:00:00Z</tag>`
    pub fn date(&mut self, tag: &str, epoch_secs: i64) -> &mut Self {
        self.text(tag, &kmsd_core::principal::format_iso8601(epoch_secs))
    }

    /// `<tag>true|false</tag>`
    pub fn boolean(&mut self, tag: &str, v: bool) -> &mut Self {
        self.text(tag, if v { "true" } else { "false" })
    }

    /// `<tag>URL-encoded document</tag>`
    pub fn document(&mut self, tag: &str, doc: &str) -> &mut Self {
        self.text(tag, &url_encode(doc))
    }

    /// `<tag><member>..</member>...</tag>` with each member written by `f`.
    pub fn members<T>(
        &mut self,
        tag: &str,
        items: &[T],
        mut f: impl FnMut(&mut Xml, &T),
    ) -> &mut Self {
        self.open(tag);
        for item in items {
            self.open("member");
            f(self, item);
            self.close("member");
        }
        self.close(tag)
    }

    /// `<Tags><member><Key/><Value/></member>...</Tags>` (omitted when empty).
    pub fn tags(&mut self, tag: &str, tags: &[(String, String)]) -> &mut Self {
        if tags.is_empty() {
            return self;
        }
        self.members(tag, tags, |x, (k, v)| {
            x.text("Key", k).text("Value", v);
        })
    }

    /// Already-rendered XML, appended as is.
    pub fn raw(&mut self, xml: &str) -> &mut Self {
        self.out.push_str(xml);
        self
    }

    /// The fragment.
    pub fn finish(self) -> String {
        self.out
    }
}

/// The success envelope: `<OpResponse xmlns=NS>[<OpResult>body</OpResult>]<ResponseMetadata>…`.
/// `result` `None` omits the `Result` element (operations without output).
pub fn envelope(op: &str, namespace: &str, result: Option<&str>, request_id: &str) -> String {
    let mut out = String::with_capacity(256 + result.map_or(0, str::len));
    out.push_str(&format!("<{op}Response xmlns=\"{namespace}\">\n"));
    if let Some(body) = result {
        out.push_str(&format!("  <{op}Result>{body}</{op}Result>\n"));
    }
    out.push_str(&format!(
        "  <ResponseMetadata>\n    <RequestId>{}</RequestId>\n  </ResponseMetadata>\n</{op}Response>\n",
        xml_escape(request_id)
    ));
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "test code: a failed expectation panics")]
mod tests {
    use super::*;

    #[test]
    fn url_encoding_is_rfc3986() {
        assert_eq!(
            url_encode("{\"A\": \"b/c~d*\"}"),
            "%7B%22A%22%3A%20%22b%2Fc~d%2A%22%7D"
        );
    }

    #[test]
    fn writer_escapes_and_lists() {
        let mut x = Xml::new();
        x.text("A", "a<b&c").members("L", &["1", "2"], |x, s| {
            x.text("V", s);
        });
        assert_eq!(
            x.finish(),
            "<A>a&lt;b&amp;c</A><L><member><V>1</V></member><member><V>2</V></member></L>"
        );
        let e = envelope(
            "DeleteUser",
            "https://iam.amazonaws.com/doc/2010-05-08/",
            None,
            "r-1",
        );
        assert!(e.starts_with(
            "<DeleteUserResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">"
        ));
        assert!(!e.contains("DeleteUserResult"));
        assert!(e.contains("<RequestId>r-1</RequestId>"));
    }
}
