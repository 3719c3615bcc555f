"""The long help for every diagnostic code, which `ppdsl explain CODE` prints
(in the manner of `rustc --explain`): what the code means, a minimal file
that triggers it, the fix, and the file fixed. Data only, one entry per code
of the message registry (messages.py), kept next to it.

Every `bad` example, checked as a file, gives that code and no other; every
`good` example gives no error and not that code (tests/lang/test_explanations.py).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

from .messages import MAX_BRACKETS


@dataclass(frozen=True)
class Explanation:
    code: str
    title: str  # one line, as the README's table of codes says it
    text: str  # what it means, in a few sentences
    bad: str  # a minimal .ppflow file that triggers it
    fix: str  # what to change
    good: str  # the bad example, fixed
    bad_encoding: str = "utf-8"  # how the bad example is saved (E004 needs a file that isn't UTF-8)
    also: tuple[str, ...] = ()  # codes the bad example can't help giving too (E110: a 9th event has no number)


def _entry(
    code: str,
    title: str,
    text: str,
    bad: str,
    fix: str,
    good: str,
    bad_encoding: str = "utf-8",
    also: tuple[str, ...] = (),
) -> Explanation:
    def para(s: str) -> str:
        return textwrap.dedent(s).strip()

    def flow(s: str) -> str:
        return textwrap.dedent(s).strip("\n") + "\n"

    return Explanation(code, title, para(text), flow(bad), para(fix), flow(good), bad_encoding, also)


_DEEP = "(" * (MAX_BRACKETS + 1) + "count(1) > 3" + ")" * (MAX_BRACKETS + 1)

EXPLANATIONS: dict[str, Explanation] = {
    e.code: e
    for e in (
        _entry(
            "E001",
            "syntax error",
            """
            The file doesn't follow ppflow's grammar. The message says what was
            expected and what was found there. When the slip is a common one the
            help names it: `elseif` for `elif`, `10 min` for `10m`, `=` for `==`,
            a keyword used as a name, Python and JavaScript habits (`is None`,
            `s.lower()`, `&`, `|`, `<>`, `=>`, `1e3`, `0x10`, `// comment`),
            full-width punctuation typed by a Chinese input method, a bracket that
            is never closed. Reading stops at the first syntax error: fix it and
            check again.
            """,
            """
            on event 1 ->
              if count(1) > 3 reply alice "Welcome back!"
              elseif count(1) > 1 reply alice "Hello again"
            """,
            "Write what the help suggests; here, ppflow spells `else if` as `elif`.",
            """
            on event 1 ->
              if count(1) > 3 reply alice "Welcome back!"
              elif count(1) > 1 reply alice "Hello again"
            """,
        ),
        _entry(
            "E002",
            "a typographic quote where a straight one belongs",
            """
            Word processors and chat apps turn "straight" quotes into typographic
            ones (“ ” ‘ ’). ppflow strings are enclosed only in straight quotes,
            " or ', so a typographic quote never starts or ends a string. This
            holds inside `{{ }}` in a template too.
            """,
            """
            on event 1 -> reply alice “Welcome!”
            """,
            "Replace the typographic quotes with straight ones.",
            """
            on event 1 -> reply alice "Welcome!"
            """,
        ),
        _entry(
            "E003",
            "an invalid escape in a string, or a lone UTF-16 surrogate",
            r"""
            A backslash in a string starts an escape, and ppflow knows only these:
            \\ \" \' \n \t and \uXXXX (exactly four hex digits). Anything else,
            such as \x41, \r or \u12, is an error. \uD800 to \uDFFF are halves of a
            UTF-16 surrogate pair: written alone they are not text, so a high
            surrogate must be followed by a low one (\ud83d\ude00 is one emoji).
            """,
            r"""
            on event 1 -> reply alice "The price is \x2499"
            """,
            r"Write the character itself, or use one of the escapes above (\u0024 for $).",
            r"""
            on event 1 -> reply alice "The price is $99"
            """,
        ),
        _entry(
            "E004",
            "the file is not UTF-8",
            """
            A .ppflow file is read as UTF-8. This one holds bytes that are not
            UTF-8 text, usually because an editor saved it in a legacy encoding
            such as GBK, Big5 or Latin-1. The message gives the offset of the first
            bad byte. (The example below is saved as GBK.)
            """,
            """
            on event 1 -> reply alice "您好，有什么可以帮您？"
            """,
            "Save the file as UTF-8, in the editor or with `iconv -f GBK -t UTF-8 old.ppflow > new.ppflow`.",
            """
            on event 1 -> reply alice "您好，有什么可以帮您？"
            """,
            bad_encoding="gbk",
        ),
        _entry(
            "E005",
            "nested too deeply",
            f"""
            So that the generated Python always compiles, a file may nest brackets
            (and `not` or unary `-` in a row) at most {MAX_BRACKETS} deep,
            statements at most 50 deep, and expression nodes at most 100 deep.
            Machine-written files reach these limits; people rarely do.
            """,
            f"""
            on event 1 -> if {_DEEP} reply alice "Hi"
            """,
            """
            Remove brackets that group nothing, cancel `not not`, split a long
            expression with `let` or a segment, and flatten nested statements with
            `elif` or `end`.
            """,
            """
            on event 1 -> if count(1) > 3 reply alice "Hi"
            """,
        ),
        _entry(
            "E006",
            "a string not closed on its line",
            r"""
            A string can't span lines: it must end on the line where it starts.
            Usually the closing quote is missing, or the text was meant to hold a
            line break.
            """,
            """
            on event 1 -> reply alice "Welcome!
            Anything I can help you with?"
            """,
            r"Close the string on its line, and write a line break inside it as \n.",
            r"""
            on event 1 -> reply alice "Welcome!\nAnything I can help you with?"
            """,
        ),
        _entry(
            "E101",
            "unknown name",
            """
            A name in an expression (or a `set`) is not a PPMessage system
            variable, a statistic (`event_count_2`, ...), an `extra_field_*`, a
            declared field or segment, a visible `let`, or a variable of the
            current event. The help suggests a close name, says when the name is
            an event (use `count(E)`) or a function, or shows how to declare a
            visitor field of your own. Outside a flow, as in `compile_condition`
            or `ppdsl eval` without `--event`, there is no current event, so
            `data` and `track_event_*` are unknown too.
            """,
            """
            on event 1 -> if user_fulname == "Li Lei" reply alice "Hi Li Lei"
            """,
            "Fix the spelling, or declare the variable: `field score int`.",
            """
            on event 1 -> if user_fullname == "Li Lei" reply alice "Hi Li Lei"
            """,
        ),
        _entry(
            "E102",
            "unknown function",
            """
            ppflow has a fixed set of functions: count, first_time, last_time,
            last_data, len, lower, upper, contains, startswith, endswith, matches,
            json, int, float, str and exists. There is no way to call Python.
            """,
            """
            on event 1 -> if length(page_title) > 40 reply alice "Long page!"
            """,
            "Use one of the functions; the help suggests the closest.",
            """
            on event 1 -> if len(page_title) > 40 reply alice "Long page!"
            """,
        ),
        _entry(
            "E103",
            "unknown event",
            """
            An event in a trigger, in `count(...)` and its friends, or in a
            statistic name (`event_count_4`) is not one the file knows. A file that
            declares events must name a declared event (by name or number); a file
            without event declarations numbers events 1 to 8 and knows no names.
            An `alias` is only for matching incoming events: inside the file, use
            the event's name.
            """,
            """
            event 1 click
            event 2 signup
            on event click, sign_up -> reply alice "Welcome!"
            """,
            "Use a declared event's name or number, or declare the event: `event 3 sign_up`.",
            """
            event 1 click
            event 2 signup
            on event click, signup -> reply alice "Welcome!"
            """,
        ),
        _entry(
            "E104",
            "unknown agent",
            """
            A file that declares agents must declare every agent it replies as or
            assigns to (a file with no `agent` line accepts any name). When the
            name is a group, the help says to write `assign group NAME`.
            """,
            """
            agent alice "Alice (sales)"
            on event 1 -> reply alice "Hi"
            on event 2 -> reply alcie "Hello again"
            """,
            'Fix the name, or declare the agent: `agent NAME "display name"`.',
            """
            agent alice "Alice (sales)"
            on event 1 -> reply alice "Hi"
            on event 2 -> reply alice "Hello again"
            """,
        ),
        _entry(
            "E105",
            "unknown group",
            """
            A file that declares groups must declare every group it assigns to with
            `assign group` (a file with no `group` line accepts any name).
            """,
            """
            group sales "Sales"
            on event 1 -> assign group sales
            on event 2 -> assign group sale
            """,
            'Fix the name, or declare the group: `group NAME "display name"`.',
            """
            group sales "Sales"
            on event 1 -> assign group sales
            on event 2 -> assign group sales
            """,
        ),
        _entry(
            "E106",
            "a name declared twice",
            """
            An agent, group, field, segment, event or flow is declared more than
            once; the diagnostic also points at the first declaration. Event names
            and aliases share one namespace, so an alias can't repeat an event's
            name either.
            """,
            """
            agent alice "Alice"
            agent alice "Alice Wang"
            on event 1 -> reply alice "Hi"
            """,
            "Keep one declaration, or give the second thing another name.",
            """
            agent alice "Alice Wang"
            on event 1 -> reply alice "Hi"
            """,
        ),
        _entry(
            "E107",
            "an event number declared twice",
            """
            Each event declaration gives an event its number (SEQ), the slot
            PPMessage counts it in; two events can't share a slot.
            """,
            """
            event 1 click
            event 1 signup
            on event click -> reply alice "Hi"
            """,
            "Give each event its own number from 1 to 8, as PPMessage numbers them.",
            """
            event 1 click
            event 2 signup
            on event click -> reply alice "Hi"
            """,
        ),
        _entry(
            "E108",
            "an event uuid declared twice",
            """
            The uuid of an event declaration is the one PPMessage assigned to that
            event; a page may identify the event by it, so two events can't share
            one.
            """,
            """
            event 1 click  uuid "6f1c7a52-0d0e-4a43-9a51-1d2f3e4c5b6a"
            event 2 signup uuid "6f1c7a52-0d0e-4a43-9a51-1d2f3e4c5b6a"
            on event click -> reply alice "Hi"
            """,
            "Copy each event's own uuid from PPMessage, or leave the uuid out.",
            """
            event 1 click  uuid "6f1c7a52-0d0e-4a43-9a51-1d2f3e4c5b6a"
            event 2 signup uuid "9d8c7b6a-5f4e-4d3c-8b2a-1a0f9e8d7c6b"
            on event click -> reply alice "Hi"
            """,
        ),
        _entry(
            "E109",
            "an event number outside 1..8",
            """
            PPMessage tracks at most 8 events per website, numbered 1 to 8. An
            event declaration, a trigger or a statistic (`count(9)`,
            `event_count_0`) with another number is an error.
            """,
            """
            event 9 checkout
            on event checkout -> reply alice "Thanks for your order!"
            """,
            "Use the number PPMessage gave the event, from 1 to 8.",
            """
            event 8 checkout
            on event checkout -> reply alice "Thanks for your order!"
            """,
        ),
        _entry(
            "E110",
            "more than 8 events",
            """
            A website tracks at most 8 events, numbered 1 to 8, so a file declares
            at most 8. A ninth declaration also has no number left: it is E109
            (out of range) or E107 (a number declared twice) as well.
            """,
            """
            event 1 click
            event 2 view_pricing
            event 3 signup
            event 4 login
            event 5 search
            event 6 add_to_cart
            event 7 checkout
            event 8 contact
            event 9 logout
            on event signup -> reply alice "Welcome!"
            """,
            "Remove the events no flow needs, or merge some into one event told apart by its data.",
            """
            event 1 click
            event 2 view_pricing
            event 3 signup
            event 4 login
            event 5 search
            event 6 add_to_cart
            event 7 checkout
            event 8 contact
            on event signup -> reply alice "Welcome!"
            """,
            also=("E109",),
        ),
        _entry(
            "E111",
            "a name too long",
            """
            PPMessage limits the length of names: event names and aliases to 64
            characters, flow names to 32.
            """,
            """
            flow welcome_new_visitors_from_the_pricing_page {
              on event 1 -> reply alice "Welcome!"
            }
            """,
            "Choose a shorter name.",
            """
            flow welcome_from_pricing {
              on event 1 -> reply alice "Welcome!"
            }
            """,
        ),
        _entry(
            "E112",
            "an event description over 128 characters",
            """
            The description of an event declaration is PPMessage's description
            field, which holds at most 128 characters.
            """,
            """
            event 1 view_pricing "The visitor opened the pricing page, either from the navigation bar or from a link \
in one of our monthly newsletters, and stayed there for a while"
            on event view_pricing -> reply alice "Questions about our plans?"
            """,
            "Shorten the description; longer notes can go in a comment.",
            """
            # from the navigation bar or from a link in one of our newsletters
            event 1 view_pricing "The visitor opened the pricing page"
            on event view_pricing -> reply alice "Questions about our plans?"
            """,
        ),
        _entry(
            "E113",
            "an empty event uuid or alias",
            """
            `uuid ""` and `alias ""` say nothing: an empty uuid or alias can't
            identify an event.
            """,
            """
            event 2 view_pricing alias "" uuid "0b8e2c1d-3f4a-4b5c-8d6e-7f8091a2b3c4"
            on event view_pricing -> reply alice "Questions about our plans?"
            """,
            "Leave out the empty clause, or fill it in.",
            """
            event 2 view_pricing alias "view-pricing" uuid "0b8e2c1d-3f4a-4b5c-8d6e-7f8091a2b3c4"
            on event view_pricing -> reply alice "Questions about our plans?"
            """,
        ),
        _entry(
            "E114",
            "an unknown field type",
            """
            A field's type is one of int, float, string, bool and datetime.
            """,
            """
            field score integer
            on event 1 -> set score = 10
            """,
            "Use one of the five type names.",
            """
            field score int
            on event 1 -> set score = 10
            """,
        ),
        _entry(
            "E115",
            "`flow main` next to rules outside any flow",
            """
            Rules written outside any flow form the implicit flow `main`. A file
            with such rules can't also declare a flow called `main`. (In a file
            without loose rules, `flow main` is an ordinary flow.)
            """,
            """
            on event 1 -> reply alice "Hi"
            flow main {
              on event 2 -> reply alice "Questions about our plans?"
            }
            """,
            "Rename the flow, or move the loose rules into it.",
            """
            on event 1 -> reply alice "Hi"
            flow pricing {
              on event 2 -> reply alice "Questions about our plans?"
            }
            """,
        ),
        _entry(
            "E116",
            "a `let`, field or segment that reuses a name already taken",
            """
            A `let`, field or segment can't take the name of a PPMessage system
            variable, a variable of the current event, a statistic, an
            `extra_field_*`, another field or segment, or a `let` that is still
            visible: the name would mean two things. (Function names are not
            variables: `let count = 1` is allowed.)
            """,
            """
            on event 1 -> {
              let page_url = lower(data.url)
              reply alice "You are on {{ page_url }}"
            }
            """,
            "Choose another name.",
            """
            on event 1 -> {
              let url = lower(data.url)
              reply alice "You are on {{ url }}"
            }
            """,
        ),
        _entry(
            "E117",
            "segments that refer to each other in a cycle",
            """
            A segment may use other segments, but not itself, directly or through
            others: its value would depend on itself.
            """,
            """
            segment engaged = count(1) > 3 or hot
            segment hot = engaged and count(2) > 1
            on event 1 -> if hot reply alice "Shall we talk?"
            """,
            "Break the cycle: define one of the segments without the other.",
            """
            segment engaged = count(1) > 3
            segment hot = engaged and count(2) > 1
            on event 1 -> if hot reply alice "Shall we talk?"
            """,
        ),
        _entry(
            "E118",
            "`set` on something that can't be set",
            """
            `set` changes a visitor variable: a declared field, a PPMessage system
            variable or an `extra_field_*`. The event statistics and the current
            event's variables are kept by PPMessage, a `let` is bound once, and a
            segment is computed from its condition, so none of them can be set.
            """,
            """
            on event 1 -> set event_count_1 = 0
            """,
            "Keep your own count or time in a field, and set that.",
            """
            field clicks_since_reply int
            on event 1 -> set clicks_since_reply = 0
            """,
        ),
        _entry(
            "E119",
            "a function called with the wrong number of arguments",
            """
            Every function takes a fixed number of arguments: `startswith(s, p)`
            two, `len(x)` one, and so on.
            """,
            """
            on event 1 -> if startswith(page_url) reply alice "Questions about our plans?"
            """,
            "Give the function the arguments it takes.",
            """
            on event 1 -> if startswith(page_url, "/pricing") reply alice "Questions about our plans?"
            """,
        ),
        _entry(
            "E120",
            "`count()` and friends without an event",
            """
            `count`, `first_time`, `last_time` and `last_data` take an event: a
            number written as a number (`count(2)`) or an event name
            (`count(signup)`). Anything else, such as a string or an expression,
            is an error.
            """,
            """
            on event 1 -> if count("2") > 3 reply alice "Welcome back!"
            """,
            "Write the event's number without quotes, or its name.",
            """
            on event 1 -> if count(2) > 3 reply alice "Welcome back!"
            """,
        ),
        _entry(
            "E121",
            "`matches()` without a literal, valid regular expression",
            """
            The pattern of `matches(s, "regex")` is compiled when the file is
            checked, so it must be a string literal that Python's `re` accepts.
            """,
            """
            on event 1 -> if matches(page_url, "^/(pricing|plans") reply alice "Questions about our plans?"
            """,
            "Write the pattern as a string literal, and fix it (here, close the group).",
            """
            on event 1 -> if matches(page_url, "^/(pricing|plans)") reply alice "Questions about our plans?"
            """,
        ),
        _entry(
            "E122",
            "a `case` value that appears twice in one `switch`",
            """
            A `switch` runs the first case whose value matches, so a value repeated
            in a later case can never select it.
            """,
            """
            on event 1 -> switch data.plan {
              case "pro" -> reply alice "Thanks for choosing Pro!"
              case "team", "pro" -> reply alice "Thanks for choosing Team!"
            }
            """,
            "Remove the repeated value, or merge the cases.",
            """
            on event 1 -> switch data.plan {
              case "pro" -> reply alice "Thanks for choosing Pro!"
              case "team" -> reply alice "Thanks for choosing Team!"
            }
            """,
        ),
        _entry(
            "E123",
            "a broken template",
            """
            In the text of `reply` and `ticket`, each `{{` starts an expression
            that runs to the next `}}`. A `{{` without its `}}`, an empty
            `{{ }}`, two expressions in one, or a quote inside `{{ }}` that ends
            the string around the template is an error. A literal `{{` is written
            `{{ '{{' }}`.
            """,
            """
            on event 1 -> reply alice "Hi {{ user_fullname }, welcome!"
            """,
            "Close every `{{` with `}}`; inside `{{ }}` use the other kind of quote.",
            """
            on event 1 -> reply alice "Hi {{ user_fullname }}, welcome!"
            """,
        ),
        _entry(
            "E124",
            "a type error",
            """
            The types of the operands are known when the file is checked, and they
            don't go together: ordering a number against text, arithmetic on a
            string (`+` doesn't join text: use a template), a function argument of
            the wrong type, `set` of a value the field can't hold. Values whose
            type is only known at run time (`data.x`, `extra_field_*`) are not
            errors; they follow the null rules instead.
            """,
            """
            on event 1 -> if count(2) > "8" reply alice "You like our prices!"
            """,
            "Write numbers without quotes, or convert with int(...), float(...) or str(...).",
            """
            on event 1 -> if count(2) > 8 reply alice "You like our prices!"
            """,
        ),
        _entry(
            "E126",
            "a number too large",
            """
            An integer literal has at most 15 digits, and a duration is at most
            999,999,999 days (what Python's timedelta holds).
            """,
            """
            on event 1 -> if user_web_sessions > 1000000000000000000 reply alice "Hi"
            """,
            "Use a smaller number.",
            """
            on event 1 -> if user_web_sessions > 1000 reply alice "Hi"
            """,
        ),
        _entry(
            "W201",
            "a rule that can never run",
            """
            A flow runs the first of its rules whose trigger names the event. When
            earlier rules of the same flow take all of a rule's events, the rule
            never runs.
            """,
            """
            flow tour {
              on event 1, 2 -> reply alice "Hi"
              on event 2 -> reply alice "Questions about our plans?"
            }
            """,
            "Move the narrower rule above the wider one, or remove it.",
            """
            flow tour {
              on event 2 -> reply alice "Questions about our plans?"
              on event 1, 2 -> reply alice "Hi"
            }
            """,
        ),
        _entry(
            "W202",
            "an agent, group, field or segment declared but never used",
            """
            Nothing in the file uses the declaration: it may be left over, or a
            typo elsewhere may have meant it. Unused events are not reported: an
            event declaration also records what the site tracks.
            """,
            """
            agent alice "Alice"
            agent bob "Bob"
            on event 1 -> reply alice "Hi"
            """,
            "Remove the declaration, or use it.",
            """
            agent alice "Alice"
            agent bob "Bob"
            on event 1 -> reply alice "Hi" on failure -> reply bob "Hi"
            """,
        ),
        _entry(
            "W203",
            "a comparison that is always false (or always true)",
            """
            Values of the two types are never equal: a number never equals text,
            and a boolean equals only a boolean. So `==` is always false and `!=`
            always true, which is rarely what was meant. The same holds for a
            `case` value against its `switch` subject.
            """,
            """
            on event 1 -> if count(2) == "8" reply alice "Eighth look at the prices!"
            """,
            "Compare values of the same type: write numbers without quotes.",
            """
            on event 1 -> if count(2) == 8 reply alice "Eighth look at the prices!"
            """,
        ),
        _entry(
            "W204",
            "`last_time(E)` inside a rule for E",
            """
            The statistics are updated before flows run, so in a rule for event E
            alone, `last_time(E)` (and `event_last_time_N`) is always the time of
            this very event, `now`. A cooldown built on it never waits. Keep the
            previous time in a field of your own instead.
            """,
            """
            on event 1 -> if now - last_time(1) > 10m reply alice "Welcome back!"
            """,
            "Keep the time in a field: read it, then set it to `now`.",
            """
            field last_click datetime
            on event 1 -> {
              let previous = last_click
              set last_click = now
              if exists(previous) and now - previous > 10m reply alice "Welcome back!"
            }
            """,
        ),
        _entry(
            "W205",
            "a vertical tab, form feed or Unicode line separator inside a comment",
            """
            Some editors show a vertical tab, a form feed, U+0085, U+2028 or
            U+2029 as a line break, but ppflow ends lines only at real line
            breaks: whatever follows it on the same line, code included, is still
            part of the comment. (In the example, the character after the comment
            is a form feed, shown as � when printed.)
            """,
            """
            # greet every visitor\fon event 1 -> reply alice "Hi"
            """,
            "Remove the character, and put the code after it on a line of its own.",
            """
            # greet every visitor
            on event 1 -> reply alice "Hi"
            """,
        ),
        _entry(
            "W206",
            "template text that looks meant as an expression",
            """
            Only `{{ EXPR }}` puts a value into a template. `{name}` and
            `${name}` (other template languages), and a stray `}` after `}}`, are
            sent as they are, braces and all.
            """,
            """
            on event 1 -> reply alice "Hi {user_fullname}, welcome!"
            """,
            "Write the expression in double braces.",
            """
            on event 1 -> reply alice "Hi {{ user_fullname }}, welcome!"
            """,
        ),
    )
}
