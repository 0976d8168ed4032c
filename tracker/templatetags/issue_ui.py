"""Presentation helpers for the issue pages: status badges, label chips, relative times
and the sentences of the timeline. Every piece of user text goes through format_html,
so it is escaped here once rather than trusted in each template."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.timesince import timesince

from tracker.models import Issue, IssueEvent, Label

register = template.Library()

Kind = IssueEvent.Kind
# Keyed by the stored value (a plain str on a loaded event), which equals its Source member.
SOURCE_NOTES: dict[str, str] = {
    IssueEvent.Source.API: "via the API",
    IssueEvent.Source.ADMIN: "in the admin",
    IssueEvent.Source.IMPORT: "by CSV import",
    IssueEvent.Source.BULK: "in a bulk change",
}


def status_label(status: str | None) -> str:
    """The status's display name; a value that is not a status (say, in an old event's
    details) is shown as it is."""
    if status is None:
        return ""
    try:
        return Issue.Status(status).label
    except ValueError:
        return status


@register.simple_tag
def status_badge(status: str) -> SafeString:
    # The text names the status, so it never depends on the colour alone.
    return format_html('<span class="badge status-{}">{}</span>', status, status_label(status))


def _luminance(hex_color: str) -> float:
    def channel(pair: str) -> float:
        c = int(pair, 16) / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(hex_color[i : i + 2]) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def text_color_for(background: str) -> str:
    """Black or white, whichever contrasts more with `background` (WCAG relative luminance)."""
    lum = _luminance(background)
    return "#000000" if (lum + 0.05) / 0.05 >= 1.05 / (lum + 0.05) else "#ffffff"


@register.simple_tag
def label_chip(label: Label) -> SafeString:
    if label.color:
        return format_html(
            '<span class="chip colored" style="background:{};color:{}">{}</span>',
            label.color,
            text_color_for(label.color),
            label.name,
        )
    return format_html('<span class="chip">{}</span>', label.name)


@register.simple_tag
def time_ago(value: datetime | None) -> SafeString:
    """A relative time ("2 hours ago") with the exact time on hover, and shown beside it on
    focus (a tap on a phone), where there is no hover (app.css)."""
    if value is None:
        return format_html('<span class="muted">{}</span>', "—")
    local = timezone.localtime(value)
    if (timezone.now() - value).total_seconds() < 60:
        text = "just now"
    else:
        text = f"{timesince(value, depth=1)} ago"
    return format_html(
        '<time datetime="{}" title="{}" tabindex="0">{}</time>',
        value.isoformat(),
        date_format(local, "j M Y, H:i:s T"),
        text,
    )


@register.filter
def priority_label(value: str | None) -> str:
    """`high` as people read it (High); an unknown value as it is."""
    try:
        return str(Issue.Priority(value or "").label)
    except ValueError:
        return str(value or "")


def _names(names: list[str]) -> SafeString:
    return format_html_join(", ", "<strong>{}</strong>", ((name,) for name in names))


def _what(event: IssueEvent) -> SafeString:
    d = event.details or {}
    kind = event.event
    if kind == Kind.ISSUE_CREATED:
        return mark_safe("opened this issue")
    if kind == Kind.TITLE_CHANGED:
        return format_html(
            "changed the title from <q>{}</q> to <q>{}</q>", d.get("from", ""), d.get("to", "")
        )
    if kind == Kind.DESCRIPTION_CHANGED:
        return mark_safe("edited the description")
    if kind == Kind.STATUS_CHANGED:
        return format_html(
            "changed the status from <strong>{}</strong> to <strong>{}</strong>",
            status_label(d.get("from")),
            status_label(d.get("to")),
        )
    if kind == Kind.ISSUE_CLOSED:
        return mark_safe("closed this issue")
    if kind == Kind.ISSUE_REOPENED:
        return format_html("reopened this issue as <strong>{}</strong>", status_label(d.get("to")))
    if kind == Kind.ASSIGNEE_CHANGED:
        old, new = d.get("from_name"), d.get("to_name")
        if old and new:
            return format_html(
                "changed the assignee from <strong>{}</strong> to <strong>{}</strong>", old, new
            )
        if new:
            return format_html("assigned <strong>{}</strong>", new)
        return format_html("unassigned <strong>{}</strong>", old or "someone")
    if kind == Kind.LABELS_CHANGED:
        parts = []
        if d.get("added"):
            parts.append(format_html("added {}", _names(d["added"])))
        if d.get("removed"):
            parts.append(format_html("removed {}", _names(d["removed"])))
        return format_html_join(" and ", "{}", ((p,) for p in parts)) or mark_safe(
            "changed the labels"
        )
    if kind == Kind.PRIORITY_CHANGED:
        return format_html(
            "changed the priority from <strong>{}</strong> to <strong>{}</strong>",
            priority_label(d.get("from")),
            priority_label(d.get("to")),
        )
    if kind == Kind.DUE_DATE_CHANGED:
        old, new = d.get("from"), d.get("to")
        if old and new:
            return format_html(
                "changed the due date from <strong>{}</strong> to <strong>{}</strong>", old, new
            )
        if new:
            return format_html("set the due date to <strong>{}</strong>", new)
        return format_html("removed the due date <strong>{}</strong>", old or "")
    if kind == Kind.COMMENT_ADDED:
        return mark_safe("commented")
    return format_html("{}", kind.replace("_", " "))


@register.simple_tag
def event_sentence(event: IssueEvent) -> SafeString:
    """ "Alice closed this issue", escaped, with a note for changes not made on the pages."""
    who = event.actor.name if event.actor_id and event.actor else "Someone"
    note = SOURCE_NOTES.get(event.source)
    if note:
        return format_html(
            '<strong>{}</strong> {} <span class="muted">{}</span>', who, _what(event), note
        )
    return format_html("<strong>{}</strong> {}", who, _what(event))
