"""
The C{--config FILE} option: every command-line option of a
L{usage.Options} class, read from a TOML or INI file.

The file is applied before the command line, so an option given on both
takes the command line's value. A repeatable option given on the command
line replaces the file's list. Options are found generically, from
C{optParameters}, C{optFlags} and the C{opt_*} methods, so options added
later need no change here. An unknown key or an invalid value is a
L{usage.UsageError} naming the file, the line, the key and the value.

TOML (read with L{tomllib}) has the options as top-level keys::

    udp-port = 9000
    public-ip = ["192.0.2.10", "2001:db8::10"]

INI (read with L{configparser}) has them in an C{[mcs-ice]} section; a
repeatable option has one value a line, the extra lines indented::

    [mcs-ice]
    udp-port = 9000
    public-ip = 192.0.2.10
        2001:db8::10
"""

from __future__ import annotations

import configparser
import getopt
import re
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path as FilePath
from typing import Any

from twisted.python import usage

CONFIG_OPTION = "config"
"""The long name of the option that names the configuration file."""

INI_SECTION = "mcs-ice"
"""The section of an INI configuration file that contains the options."""

INI_SUFFIXES = frozenset({".ini", ".cfg", ".conf"})
"""File name suffixes read as INI. C{.toml} is read as TOML. A file with any
other name is read as INI when its first line that is not blank or a comment
is a section header."""

EXCLUDED_OPTIONS = frozenset({CONFIG_OPTION, "help", "version"})
"""Options that a configuration file cannot set."""

SECRET_OPTIONS = frozenset({"user", "auth-secret", "api-token"})
"""Options whose values messages never show: passwords, secrets and tokens."""

HIDDEN = "(value hidden)"

_SECRET_WORDS = ("secret", "password", "token", "user", "key")

_BOOLEANS = {
    "1": True,
    "yes": True,
    "true": True,
    "on": True,
    "0": False,
    "no": False,
    "false": False,
    "off": False,
}


@dataclass(frozen=True, slots=True)
class ConfigEntry:
    """
    One key of a configuration file.

    @ivar key: the key as the file spells it.
    @ivar value: the value: a L{str}, L{int}, L{float} or L{bool} (from TOML),
        or a L{list} of those for several values.
    @ivar line: the 1-based line number of the key in the file.
    @ivar text: the value as written in the file, for messages.
    @ivar ini: whether the file is INI, whose values are all strings.
    """

    key: str
    value: Any
    line: int
    text: str
    ini: bool = False


@dataclass(frozen=True, slots=True)
class ConfigSource:
    """
    The line of the configuration file that set an option.
    """

    path: str
    line: int
    key: str
    text: str

    def describe(self) -> str:
        """
        Return C{"FILE line N: key = value"} for messages.
        """
        return f"{self.path} line {self.line}: {self.key} = {self.text}"


def config_error(path: str, line: int | None, message: str) -> usage.UsageError:
    """
    Return the L{usage.UsageError} of a configuration file problem.
    """
    where = path if line is None else f"{path} line {line}"
    return usage.UsageError(f"invalid config file {where}: {message}")


# --- Reading the file ----------------------------------------------------------


def read_config_file(path: str) -> list[ConfigEntry]:
    """
    Read the options of the TOML or INI file at C{path}.

    @raise usage.UsageError: when the file cannot be read or parsed, naming
        the file and, where the parser reports it, the line.
    """
    try:
        text = FilePath(path).read_text(encoding="utf-8")
    except OSError as error:
        raise usage.UsageError(
            f"cannot read config file {path}: {error.strerror or error}"
        ) from None
    except UnicodeDecodeError as error:
        raise usage.UsageError(
            f"cannot read config file {path}: not UTF-8 at byte {error.start}"
        ) from None
    if is_ini(path, text):
        return parse_ini(path, text)
    return parse_toml(path, text)


def is_ini(path: str, text: str) -> bool:
    """
    Return whether the file at C{path} with contents C{text} is INI rather
    than TOML: by its suffix, else by a section header as its first line that
    is not blank or a comment.
    """
    suffix = FilePath(path).suffix.lower()
    if suffix == ".toml":
        return False
    if suffix in INI_SUFFIXES:
        return True
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped[0] in "#;":
            continue
        return stripped.startswith("[")
    return False


def parse_toml(path: str, text: str) -> list[ConfigEntry]:
    """
    Parse TOML options: top-level keys only.

    @raise usage.UsageError: for a syntax error or a table.
    """
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        duplicate = _duplicate_key_error(path, text, str(error))
        raise duplicate or config_error(path, None, str(error)) from None
    lines = _key_lines(text)
    entries = []
    for key, value in document.items():
        line = lines.get(key, 0)
        if isinstance(value, dict):
            raise config_error(
                path,
                line or None,
                f"unknown table [{key}]: options are top-level keys in TOML",
            )
        entries.append(ConfigEntry(key, value, line, _toml_text(value)))
    entries.sort(key=lambda entry: entry.line)
    return entries


_TOML_KEY = re.compile(r"""^\s*(?:"([^"]+)"|'([^']+)'|([A-Za-z0-9_-]+))\s*=""")

_TOML_OVERWRITE = re.compile(r"^Cannot overwrite a value \(at line (\d+),")


def _duplicate_key_error(path: str, text: str, message: str) -> usage.UsageError | None:
    """
    Return the error of a key that a TOML file sets twice, naming the key
    and its value, or L{None} when C{message} of L{tomllib} is about
    something else. L{tomllib} reports only the line where the second value
    ends, so the key is read from the file's text: the last key at or
    before that line.
    """
    found = _TOML_OVERWRITE.match(message)
    if found is None:
        return None
    lines = text.splitlines()
    line = min(int(found.group(1)), len(lines))
    key_match = None
    while line > 0 and key_match is None:
        key_match = _TOML_KEY.match(lines[line - 1])
        if key_match is None:
            line -= 1
    if key_match is None:
        return None
    key = next(group for group in key_match.groups() if group is not None)
    shown = _value_text(lines[line - 1][key_match.end() :])
    if any(word in key.lower() for word in _SECRET_WORDS):
        shown = HIDDEN
    first = _key_lines(text).get(key)
    earlier = f" (first on line {first})" if first and first != line else ""
    return usage.UsageError(
        f"option {key!r} = {shown} set twice in config file {path} line {line}{earlier}"
    )


def _key_lines(text: str) -> dict[str, int]:
    """
    Return the line of each top-level key of a TOML document, by scanning
    lines up to the first table header. L{tomllib} keeps no positions.
    """
    lines: dict[str, int] = {}
    in_string = False
    for number, line in enumerate(text.splitlines(), start=1):
        if line.count('"""') % 2 or line.count("'''") % 2:
            in_string = not in_string
            continue
        if in_string:
            continue
        if line.lstrip().startswith("["):
            match = re.match(r"\s*\[+\s*([^\]]+?)\s*\]", line)
            if match and not _TOML_KEY.match(line):
                lines.setdefault(match.group(1).strip("\"'"), number)
                break
        match = _TOML_KEY.match(line)
        if match:
            key = next(group for group in match.groups() if group is not None)
            lines.setdefault(key, number)
    return lines


def _value_text(raw: str) -> str:
    """
    Return the TOML value C{raw} (the text after C{=} on one line) as
    L{_toml_text} writes it, without a trailing comment, or C{raw} stripped
    when it is not a whole value on its own.
    """
    try:
        return _toml_text(tomllib.loads(f"value = {raw}")["value"])
    except tomllib.TOMLDecodeError:
        return raw.strip()


def _toml_text(value: Any) -> str:
    """
    Return a TOML value as a file would write it, for messages.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_text(item) for item in value) + "]"
    return str(value)


def parse_ini(path: str, text: str) -> list[ConfigEntry]:
    """
    Parse INI options from the C{[mcs-ice]} section. Values stay strings,
    and a value of several lines is a list of its non-empty lines.

    @raise usage.UsageError: for a syntax error, a duplicate key, a key
        outside the section or another section.
    """
    parser = configparser.ConfigParser(
        interpolation=None, default_section="\0no default section"
    )
    parser.optionxform = str  # type: ignore[assignment, method-assign]
    try:
        parser.read_string(text, source=path)
    except configparser.MissingSectionHeaderError as error:
        raise config_error(
            path, error.lineno, f"expected the [{INI_SECTION}] section header first"
        ) from None
    except (configparser.DuplicateOptionError, configparser.DuplicateSectionError) as e:
        raise config_error(path, e.lineno, e.message.split(": ", 1)[-1]) from None
    except configparser.ParsingError as error:
        line = error.errors[0][0] if error.errors else None
        raise config_error(path, line, "not a key = value line") from None
    except configparser.Error as error:
        raise config_error(path, None, error.message) from None

    section_lines, key_lines = _ini_lines(text)
    for section in parser.sections():
        if section != INI_SECTION:
            raise config_error(
                path,
                section_lines.get(section),
                f"unknown section [{section}]: the options go in [{INI_SECTION}]",
            )
    if not parser.has_section(INI_SECTION):
        return []
    entries = []
    for key, raw in parser.items(INI_SECTION):
        values = [line.strip() for line in raw.splitlines() if line.strip()]
        value: Any = values if len(values) > 1 else raw.strip()
        entries.append(
            ConfigEntry(key, value, key_lines.get(key, 0), raw.strip(), ini=True)
        )
    return entries


def _ini_lines(text: str) -> tuple[dict[str, int], dict[str, int]]:
    """
    Return the line of each section header, and of each key in the
    C{[mcs-ice]} section. L{configparser} keeps no positions.
    """
    sections: dict[str, int] = {}
    keys: dict[str, int] = {}
    section = None
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped[0] in "#;" or line[0].isspace():
            continue
        if stripped.startswith("[") and stripped.endswith("]"):
            section = stripped[1:-1].strip()
            sections.setdefault(section, number)
            continue
        if section == INI_SECTION:
            key = re.split(r"\s*[=:]", stripped, maxsplit=1)[0].strip()
            keys.setdefault(key, number)
    return sections, keys


# --- Applying it to the options ------------------------------------------------


def option_name(options: usage.Options, key: str) -> str | None:
    """
    Return the long option name that C{key} (dashes or underscores) names,
    or L{None} when there is no such option.
    """
    for candidate in (key, key.replace("_", "-")):
        name = options.synonyms.get(candidate)
        if name is not None and len(candidate) > 1:
            return str(name)
    return None


def command_line_options(options: usage.Options, argv: Sequence[str]) -> set[str]:
    """
    Return the long names of the options given in C{argv}.

    @return: an empty set when C{argv} does not parse, because the full
        parse then reports the error.
    """
    try:
        opts, _ = getopt.getopt(list(argv), options.shortOpt, options.longOpt)
    except getopt.error:
        return set()
    names = set()
    for opt, _value in opts:
        name = opt[2:] if opt.startswith("--") else opt[1:]
        long_name = options.synonyms.get(name) or options.synonyms.get(
            name.replace("-", "_")
        )
        if long_name is not None:
            names.add(str(long_name))
    return names


def config_path(argv: Sequence[str], options: usage.Options) -> str | None:
    """
    Return the value of C{--config} in C{argv}, the last one when repeated.
    """
    try:
        opts, _ = getopt.getopt(list(argv), options.shortOpt, options.longOpt)
    except getopt.error:
        return None
    path = None
    for opt, value in opts:
        if opt == "--" + CONFIG_OPTION:
            path = value
    return path


def _kind(options: usage.Options, name: str) -> str:
    """
    Return C{"flag"}, C{"parameter"} or C{"list"} (an C{opt_*} method that
    takes a value and may be repeated) for the option C{name}.
    """
    handler = options._dispatch[name]
    if isinstance(handler, usage.CoerceParameter):
        return "parameter"
    if name + "=" in options.longOpt:
        return "list"
    return "flag"


def _scalar_text(value: Any) -> str | None:
    """
    Return a TOML string or number as the text a command line would carry,
    or L{None} for another type.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, str | int | float):
        return str(value)
    return None


def _flag_value(entry: ConfigEntry) -> bool | None:
    """
    Return the flag value of C{entry}: a TOML boolean, or one of the
    L{configparser} boolean words in INI. Return L{None} for anything else.
    """
    if isinstance(entry.value, bool):
        return entry.value
    if entry.ini and isinstance(entry.value, str):
        return _BOOLEANS.get(entry.value.strip().lower())
    return None


def _check_integer(entry: ConfigEntry, value: Any) -> None:
    """
    Check that C{value} of C{entry} is an integer: a TOML integer, or
    digits in INI.

    @raise usage.UsageError: when it is not.
    """
    if entry.ini:
        if not (isinstance(value, str) and value.isascii() and value.isdigit()):
            raise usage.UsageError("expected a whole number (digits only)")
    elif isinstance(value, bool) or not isinstance(value, int):
        raise usage.UsageError("expected an integer, without quotes")


def apply_entry(options: usage.Options, name: str, entry: ConfigEntry) -> None:
    """
    Set the option C{name} from C{entry}, through the option's own handler so
    that it checks the value as it does on the command line.

    @raise usage.UsageError: when the value is of the wrong type or the
        handler rejects it, without the file's position (the caller adds it).
    """
    kind = _kind(options, name)
    handler = options._dispatch[name]
    if kind == "flag":
        flag = _flag_value(entry)
        if flag is None:
            expected = "true or false"
            if entry.ini:
                expected += ", yes or no, on or off, or 1 or 0"
            raise usage.UsageError(f"expected {expected}")
        if flag:
            handler(name, None)
        elif name in options.opts:
            options.opts[name] = 0
        return

    values = entry.value if isinstance(entry.value, list) else [entry.value]
    if kind == "parameter" and len(values) != 1:
        raise usage.UsageError("expected one value, not a list")
    integer = name in getattr(options, "integer_options", frozenset())
    for value in values:
        if integer:
            _check_integer(entry, value)
        text = _scalar_text(value)
        if text is None:
            raise usage.UsageError("expected a string or a number")
        if isinstance(handler, usage.CoerceParameter):
            handler.dispatch(name, text)
        else:
            handler(name, text)


def apply_config_file(
    options: usage.Options, path: str, skip: set[str]
) -> dict[str, ConfigSource]:
    """
    Set the options of the file at C{path} on C{options}, except those in
    C{skip} (given on the command line).

    @return: where each option that the file set came from.
    @raise usage.UsageError: naming the file, line, key and value of an
        unknown key or an invalid value.
    """
    sources: dict[str, ConfigSource] = {}
    seen: dict[str, ConfigEntry] = {}
    for entry in read_config_file(path):
        name = option_name(options, entry.key)
        where = f"{path} line {entry.line}" if entry.line else path
        if name is None or name in EXCLUDED_OPTIONS:
            shown = entry.text
            if any(word in entry.key.lower() for word in _SECRET_WORDS):
                shown = HIDDEN
            raise usage.UsageError(
                f"unknown option {entry.key!r} = {shown} in config file {where}"
            )
        if name in seen:
            raise usage.UsageError(
                f"option {entry.key!r} set twice in config file {where}"
                f" (first on line {seen[name].line})"
            )
        if name in SECRET_OPTIONS:
            entry = replace(entry, text=HIDDEN)
        seen[name] = entry
        if name in skip:
            continue
        try:
            apply_entry(options, name, entry)
        except usage.UsageError as error:
            # The handler's own "invalid --NAME VALUE: " would repeat the key.
            reason = re.sub(rf"^invalid --{re.escape(name)}\b[^:]*: ", "", str(error))
            raise usage.UsageError(
                f"invalid {entry.key} = {entry.text} in config file {where}: {reason}"
            ) from None
        sources[name] = ConfigSource(path, entry.line, entry.key, entry.text)
    return sources


def explain_error(
    error: usage.UsageError, sources: dict[str, ConfigSource]
) -> usage.UsageError:
    """
    Add the file position to an error that L{usage.Options.postOptions}
    raised about an option that the configuration file set.
    """
    message = str(error)
    for name, source in sources.items():
        if re.search(rf"--{re.escape(name)}\b(?!-)", message):
            return usage.UsageError(f"{message} (from {source.describe()})")
    return error


def parse_with_config_file(
    options: usage.Options,
    argv: Sequence[str] | None,
    parse: Callable[[Sequence[str] | None], None],
) -> None:
    """
    Apply the file that C{--config} in C{argv} names, then run C{parse}
    (the class's own C{parseOptions}) on C{argv}.

    The options the file set are recorded in C{options.config_sources}, and
    an error that C{parse} raises about one of them names its file line.

    @raise usage.UsageError: for a bad file, key or value.
    """
    import sys

    arguments = list(sys.argv[1:] if argv is None else argv)
    options.argv = arguments  # type: ignore[attr-defined]
    options.config_sources = {}  # type: ignore[attr-defined]
    path = config_path(arguments, options)
    if path is not None:
        skip = command_line_options(options, arguments)
        options.config_sources = apply_config_file(  # type: ignore[attr-defined]
            options, path, skip
        )
    try:
        parse(arguments)
    except usage.UsageError as error:
        raise explain_error(error, options.config_sources) from None  # type: ignore[attr-defined]
