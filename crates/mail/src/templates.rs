//! The platform's mails, each as a subject, a plain-text part and an HTML part. Written as
//! code rather than template files: two short mails do not pay for a template engine, and
//! every interpolated value goes through a helper (the HTML ones at the bottom, `one_line` for
//! the subject), so none of them (a user's display name, a gig title) can add markup to the
//! HTML or a line to the subject.

use crate::mailer::one_line;

/// A mail ready to be put in an [`OutgoingMail`](crate::OutgoingMail).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The subject of the password-reset mail (known before its link is).
pub const PASSWORD_RESET_SUBJECT: &str = "Reset your Noillin password";

/// The mail with a password-reset link. `expires_at_text` completes "The link expires …",
/// e.g. `"in 30 minutes"` or `"on 20 November 2026 at 14:00 UTC"`.
pub fn password_reset(display_name: &str, reset_link: &str, expires_at_text: &str) -> Rendered {
    let subject = PASSWORD_RESET_SUBJECT.to_owned();
    let text = format!(
        "Hello {display_name},\n\
         \n\
         Someone asked to reset the password of your Noillin account. To choose a new \
         password, open this link:\n\
         \n\
         {reset_link}\n\
         \n\
         The link works once and expires {expires_at_text}. If you did not ask for this, \
         ignore this mail: your password stays as it is.\n\
         \n\
         — Noillin\n"
    );
    let body = format!(
        "<p>Hello {name},</p>\n\
         <p>Someone asked to reset the password of your Noillin account. To choose a new \
         password, open this link:</p>\n\
         <p>{link}</p>\n\
         <p>The link works once and expires {expires}. If you did not ask for this, ignore \
         this mail: your password stays as it is.</p>\n",
        name = escape_html(display_name),
        link = html_link(reset_link, "Choose a new password"),
        expires = escape_html(expires_at_text),
    );
    Rendered {
        html: html_document(&subject, &body),
        subject,
        text,
    }
}

/// The mail inviting an influencer to a gig (a group gig's member, a brand's private gig).
pub fn gig_invitation(
    display_name: &str,
    inviter_name: &str,
    gig_title: &str,
    dashboard_link: &str,
) -> Rendered {
    let subject = format!("You are invited to “{}”", one_line(gig_title));
    let text = format!(
        "Hello {display_name},\n\
         \n\
         {inviter_name} invited you to the gig “{gig_title}” on Noillin. See the invitation \
         and answer it on your dashboard:\n\
         \n\
         {dashboard_link}\n\
         \n\
         — Noillin\n"
    );
    let body = format!(
        "<p>Hello {name},</p>\n\
         <p>{inviter} invited you to the gig “{title}” on Noillin. See the invitation and \
         answer it on your dashboard:</p>\n\
         <p>{link}</p>\n",
        name = escape_html(display_name),
        inviter = escape_html(inviter_name),
        title = escape_html(gig_title),
        link = html_link(dashboard_link, "Open your dashboard"),
    );
    Rendered {
        html: html_document(&subject, &body),
        subject,
        text,
    }
}

/// A mail about a booking (confirmed, cancelled, money going back): the notification's own
/// `headline` and `message`, and a link to the booking.
pub fn booking_update(
    display_name: &str,
    headline: &str,
    message: &str,
    booking_link: &str,
) -> Rendered {
    let subject = one_line(headline);
    let text = format!(
        "Hello {display_name},\n\
         \n\
         {message}\n\
         \n\
         See the booking:\n\
         \n\
         {booking_link}\n\
         \n\
         — Noillin\n"
    );
    let body = format!(
        "<p>Hello {name},</p>\n\
         <p>{message}</p>\n\
         <p>{link}</p>\n",
        name = escape_html(display_name),
        message = escape_html(message),
        link = html_link(booking_link, "See the booking"),
    );
    Rendered {
        html: html_document(&subject, &body),
        subject,
        text,
    }
}

/// A payout statement: the notification's `headline` and `message`, what a booking earned,
/// the fee, what was taken back and transferred as `(label, value)` lines, and a link to the
/// booking.
pub fn payout_statement(
    display_name: &str,
    headline: &str,
    message: &str,
    lines: &[(String, String)],
    booking_link: &str,
) -> Rendered {
    let subject = one_line(headline);
    let width = lines
        .iter()
        .map(|(label, _)| label.chars().count())
        .max()
        .unwrap_or(0);
    let table: String = lines
        .iter()
        .map(|(label, value)| format!("{label:<width$}  {value}\n"))
        .collect();
    let text = format!(
        "Hello {display_name},\n\
         \n\
         {message}\n\
         \n\
         {table}\n\
         See the booking:\n\
         \n\
         {booking_link}\n\
         \n\
         — Noillin\n"
    );
    let rows: String = lines
        .iter()
        .map(|(label, value)| {
            format!(
                "<tr><th align=\"left\">{}</th><td align=\"right\">{}</td></tr>\n",
                escape_html(label),
                escape_html(value)
            )
        })
        .collect();
    let body = format!(
        "<p>Hello {name},</p>\n\
         <p>{message}</p>\n\
         <table>\n{rows}</table>\n\
         <p>{link}</p>\n",
        name = escape_html(display_name),
        message = escape_html(message),
        link = html_link(booking_link, "See the booking"),
    );
    Rendered {
        html: html_document(&subject, &body),
        subject,
        text,
    }
}

/// One unread message as the unread-messages mail lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadLine {
    pub sender_name: String,
    /// When it was sent, as the recipient reads it.
    pub sent_at: String,
    /// The start of the text.
    pub text: String,
}

/// The one mail about messages left unread in a conversation: who wrote what, the number of
/// messages beyond those listed, and a link to the conversation.
pub fn unread_messages(
    display_name: &str,
    lines: &[UnreadLine],
    more: u64,
    conversation_link: &str,
) -> Rendered {
    let count = lines.len() as u64 + more;
    let subject = if count == 1 {
        "You have an unread message".to_owned()
    } else {
        format!("You have {count} unread messages")
    };
    let listed: String = lines
        .iter()
        .map(|l| format!("{} ({}):\n{}\n\n", l.sender_name, l.sent_at, l.text))
        .collect();
    let beyond = if more > 0 {
        format!("…and {more} more.\n\n")
    } else {
        String::new()
    };
    let text = format!(
        "Hello {display_name},\n\
         \n\
         {listed}{beyond}\
         Read and answer them:\n\
         \n\
         {conversation_link}\n\
         \n\
         — Noillin\n"
    );
    let items: String = lines
        .iter()
        .map(|l| {
            format!(
                "<li><strong>{}</strong> <small>{}</small><br>{}</li>\n",
                escape_html(&l.sender_name),
                escape_html(&l.sent_at),
                escape_html(&l.text)
            )
        })
        .collect();
    let body = format!(
        "<p>Hello {name},</p>\n\
         <ul>\n{items}</ul>\n\
         {beyond}\
         <p>{link}</p>\n",
        name = escape_html(display_name),
        beyond = if more > 0 {
            format!("<p>…and {more} more.</p>\n")
        } else {
            String::new()
        },
        link = html_link(conversation_link, "Read and answer them"),
    );
    Rendered {
        html: html_document(&subject, &body),
        subject,
        text,
    }
}

/// Escapes the five characters that matter in HTML text and in quoted attribute values.
pub fn escape_html(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// A button-like link followed by the address in full, for mail clients that drop links.
/// Only http(s) addresses become links, so a bad configuration cannot make a `javascript:` one.
fn html_link(href: &str, label: &str) -> String {
    let shown = escape_html(href);
    if href.starts_with("https://") || href.starts_with("http://") {
        format!(
            "<a href=\"{shown}\">{label}</a><br>\n<span style=\"word-break:break-all\">{shown}</span>",
            label = escape_html(label),
        )
    } else {
        shown
    }
}

fn html_document(subject: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n\
         <html lang=\"en\">\n\
         <head><meta charset=\"utf-8\"><title>{title}</title></head>\n\
         <body style=\"font-family:sans-serif;line-height:1.5\">\n\
         {body}\
         <p>— Noillin</p>\n\
         </body>\n\
         </html>\n",
        title = escape_html(subject),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINK: &str = "https://noillin.local/reset?token=abc&user=1";

    #[test]
    fn escape_html_escapes_markup_and_quotes() {
        assert_eq!(
            escape_html(r#"<script>alert("x" & 'y')</script>"#),
            "&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)&lt;/script&gt;"
        );
    }

    #[test]
    fn password_reset_escapes_every_value_in_the_html() {
        let mail = password_reset("<script>x</script>", LINK, "in <b>1</b> hour");
        assert!(
            mail.html.contains("&lt;script&gt;x&lt;/script&gt;"),
            "{}",
            mail.html
        );
        assert!(mail.html.contains("in &lt;b&gt;1&lt;/b&gt; hour"));
        assert!(!mail.html.contains("<script>") && !mail.html.contains("<b>"));
        assert_eq!(mail.subject, "Reset your Noillin password");
    }

    #[test]
    fn password_reset_has_the_link_in_both_parts() {
        let mail = password_reset("Ada", LINK, "in 1 hour");
        assert!(mail.text.contains(LINK));
        assert!(mail.text.contains("expires in 1 hour"));
        assert!(
            mail.html
                .contains("href=\"https://noillin.local/reset?token=abc&amp;user=1\"")
        );
    }

    #[test]
    fn booking_update_escapes_the_message_and_keeps_the_subject_on_one_line() {
        let link = "https://noillin.local/bookings/b1";
        let mail = booking_update("Bo", "Booking\nconfirmed", "<b>Tour</b> & co", link);
        assert_eq!(mail.subject, "Booking confirmed");
        assert!(mail.html.contains("&lt;b&gt;Tour&lt;/b&gt; &amp; co"));
        assert!(!mail.html.contains("<b>"));
        assert!(mail.text.contains("<b>Tour</b> & co") && mail.text.contains(link));
    }

    #[test]
    fn a_payout_statement_lists_every_line_aligned_and_escaped() {
        let lines = vec![
            ("Paid by the brand".to_owned(), "450.00 EUR".to_owned()),
            ("Fee".to_owned(), "<67.50 EUR>".to_owned()),
        ];
        let mail = payout_statement("Bo", "Payout sent", "Paid.", &lines, "https://x/b/1");
        assert_eq!(mail.subject, "Payout sent");
        assert!(
            mail.text.contains("Paid by the brand  450.00 EUR"),
            "{}",
            mail.text
        );
        assert!(
            mail.text.contains("Fee                <67.50 EUR>"),
            "{}",
            mail.text
        );
        assert!(mail.html.contains("&lt;67.50 EUR&gt;"));
        assert!(mail.html.contains("https://x/b/1"));
    }

    #[test]
    fn gig_invitation_escapes_every_value_and_has_the_link_in_both_parts() {
        let link = "https://noillin.local/dashboard";
        let mail = gig_invitation("<i>Bo</i>", "A & B", "<script>t</script>", link);
        assert!(mail.html.contains("&lt;i&gt;Bo&lt;/i&gt;"));
        assert!(mail.html.contains("A &amp; B"));
        assert!(mail.html.contains("&lt;script&gt;t&lt;/script&gt;"));
        assert!(!mail.html.contains("<script>") && !mail.html.contains("<i>"));
        assert!(mail.text.contains(link) && mail.html.contains(link));
        assert!(
            mail.text
                .contains("A & B invited you to the gig “<script>t</script>”")
        );
    }

    #[test]
    fn crlf_in_a_gig_title_cannot_reach_the_subject() {
        let mail = gig_invitation(
            "Bo",
            "Acme",
            "Launch\r\nBcc: victim@example.com",
            "https://x",
        );
        assert_eq!(
            mail.subject,
            "You are invited to “Launch  Bcc: victim@example.com”"
        );
        assert!(!mail.subject.contains(['\r', '\n']));
    }

    #[test]
    fn a_link_that_is_not_http_is_shown_but_not_linked() {
        let mail = password_reset("Ada", "javascript:alert(1)", "in 1 hour");
        assert!(!mail.html.contains("href=\"javascript"));
        assert!(mail.html.contains("javascript:alert(1)"));
    }
}
