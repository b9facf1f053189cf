"""
Tests for L{twisted_ice.config}: options from a TOML or INI file.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from twisted.python import usage
from twisted.trial import unittest

from twisted_ice import tap
from twisted_ice.config import HIDDEN, parse_with_config_file


class FakeOptions(usage.Options):
    """
    Options of every kind the file can set: parameters, a flag, a
    repeatable C{opt_*} method, and a check in C{postOptions}.
    """

    optParameters = [
        ["config", None, None, "The config file."],
        ["port", "p", "9000", "A port."],
        ["realm", None, "example", "A realm."],
        ["secret-word", None, None, "A value never shown."],
    ]
    optFlags = [["verbose", "v", "Say more."]]

    def opt_peer(self, value: str) -> None:
        """
        A repeatable option that rejects C{bad}.
        """
        if value == "bad":
            raise usage.UsageError("invalid --peer: not a peer")
        self.setdefault("peer", []).append(value)

    def opt_user(self, value: str) -> None:
        """
        A repeatable secret option.
        """
        self.setdefault("user", []).append(value)

    def postOptions(self) -> None:
        """
        Reject a port that is not a number, naming the option.
        """
        if not str(self["port"]).isdigit():
            raise usage.UsageError(f"invalid --port {self['port']!r}: not a number")


class ConfigTestCase(unittest.TestCase):
    """
    Helpers to write a config file and parse options with it.
    """

    def write(self, text: str, suffix: str = ".toml") -> str:
        """
        Write C{text} to a temporary file ending with C{suffix}; return its
        path.
        """
        path = self.mktemp() + suffix
        with open(path, "w", encoding="utf-8") as file:
            file.write(text)
        return path

    def parse(self, text: str, *argv: str, suffix: str = ".toml") -> FakeOptions:
        """
        Parse C{argv} after C{--config} with a file of C{text}.
        """
        options = FakeOptions()
        arguments: Sequence[str] = ["--config", self.write(text, suffix), *argv]
        parse_with_config_file(options, arguments, options_parse(options))
        return options

    def error(self, text: str, *argv: str, suffix: str = ".toml") -> str:
        """
        Return the message of the L{usage.UsageError} that parsing raises.
        """
        with self.assertRaises(usage.UsageError) as caught:
            self.parse(text, *argv, suffix=suffix)
        return str(caught.exception)


def options_parse(
    options: usage.Options,
) -> Callable[[Sequence[str] | None], None]:
    """
    Return the base class's C{parseOptions} bound to C{options}.
    """
    return lambda argv: usage.Options.parseOptions(options, argv)


class TomlTests(ConfigTestCase):
    """
    Options from a TOML file.
    """

    def test_parameter_set(self) -> None:
        """
        A top-level key sets the parameter of that long name.
        """
        options = self.parse('realm = "media"\n')
        self.assertEqual(options["realm"], "media")

    def test_number_becomes_text(self) -> None:
        """
        A TOML integer is handed to the option as the command line would.
        """
        options = self.parse("port = 9100\n")
        self.assertEqual(options["port"], "9100")

    def test_underscores_accepted(self) -> None:
        """
        A key may spell the long name with underscores.
        """
        options = self.parse('secret_word = "x"\n')
        self.assertEqual(options["secret-word"], "x")

    def test_list_repeats_option(self) -> None:
        """
        A list gives each value to a repeatable option, in order.
        """
        options = self.parse('peer = ["a", "b"]\n')
        self.assertEqual(options["peer"], ["a", "b"])

    def test_single_value_for_repeatable(self) -> None:
        """
        A repeatable option also takes one value without a list.
        """
        options = self.parse('peer = "a"\n')
        self.assertEqual(options["peer"], ["a"])

    def test_flag_true(self) -> None:
        """
        C{true} sets a flag.
        """
        options = self.parse("verbose = true\n")
        self.assertTrue(options["verbose"])

    def test_flag_false(self) -> None:
        """
        C{false} leaves a flag off.
        """
        options = self.parse("verbose = false\n")
        self.assertFalse(options["verbose"])

    def test_flag_string_rejected(self) -> None:
        """
        A TOML string for a flag is an error, even a word that INI takes.
        """
        for word in ("yes", "no", "true"):
            message = self.error(f'verbose = "{word}"\n')
            self.assertIn("expected true or false", message, word)

    def test_flag_not_boolean_names_line(self) -> None:
        """
        A flag with a value that is not a boolean is an error naming the key,
        the value and the line.
        """
        message = self.error('realm = "x"\nverbose = "maybe"\n')
        self.assertIn('verbose = "maybe"', message)
        self.assertIn("line 2", message)
        self.assertIn("expected true or false", message)

    def test_unknown_key_names_line(self) -> None:
        """
        An unknown key is an error naming the key, its value and its line.
        """
        message = self.error('realm = "x"\n\ncolour = "blue"\n')
        self.assertIn("'colour'", message)
        self.assertIn('"blue"', message)
        self.assertIn("line 3", message)

    def test_unknown_secret_key_hides_value(self) -> None:
        """
        An unknown key that looks like a secret has its value hidden.
        """
        message = self.error('auth-secrets = "hunter2"\n')
        self.assertNotIn("hunter2", message)
        self.assertIn(HIDDEN, message)

    def test_bad_value_names_line(self) -> None:
        """
        A value that the option's handler rejects is an error naming the key,
        the value, the line and the handler's reason.
        """
        message = self.error('realm = "x"\npeer = ["a", "bad"]\n')
        self.assertIn('peer = ["a", "bad"]', message)
        self.assertIn("line 2", message)
        self.assertIn("not a peer", message)

    def test_wrong_type_names_line(self) -> None:
        """
        A boolean for a parameter is an error naming the line.
        """
        message = self.error("port = true\n")
        self.assertIn("port = true", message)
        self.assertIn("line 1", message)
        self.assertIn("expected a string or a number", message)

    def test_list_for_parameter_rejected(self) -> None:
        """
        A parameter that is not repeatable takes no list.
        """
        message = self.error('realm = ["a", "b"]\n')
        self.assertIn("expected one value, not a list", message)

    def test_secret_value_hidden(self) -> None:
        """
        Errors never show the value of a secret option.
        """
        options = FakeOptions()
        path = self.write("user = [1.5, true]\n")
        with self.assertRaises(usage.UsageError) as caught:
            parse_with_config_file(options, ["--config", path], options_parse(options))
        message = str(caught.exception)
        self.assertIn(HIDDEN, message)
        self.assertNotIn("1.5", message)

    def test_syntax_error_names_line(self) -> None:
        """
        A TOML syntax error names the file and the parser's line.
        """
        message = self.error('realm = "x"\nport = = 1\n')
        self.assertIn("invalid config file", message)
        self.assertIn("line 2", message)

    def test_duplicate_key_named(self) -> None:
        """
        A key set twice is an error naming the key, its second value and
        both lines, in place of L{tomllib}'s message without the key.
        """
        message = self.error('realm = "x"\nport = 9000\n\nport = 9001 # again\n')
        self.assertIn("option 'port' = 9001 set twice", message)
        self.assertIn("line 4", message)
        self.assertIn("first on line 2", message)

    def test_duplicate_secret_hidden(self) -> None:
        """
        A secret key set twice has its value hidden.
        """
        message = self.error('secret-word = "a"\nsecret-word = "hunter2"\n')
        self.assertIn("option 'secret-word' = (value hidden)", message)
        self.assertNotIn("hunter2", message)

    def test_table_rejected(self) -> None:
        """
        A table is an error: the options are top-level keys.
        """
        message = self.error('realm = "x"\n[server]\nport = 1\n')
        self.assertIn("unknown table [server]", message)
        self.assertIn("line 2", message)

    def test_config_key_rejected(self) -> None:
        """
        A file cannot name another config file.
        """
        message = self.error('config = "other.toml"\n')
        self.assertIn("unknown option 'config'", message)

    def test_missing_file(self) -> None:
        """
        A file that cannot be read is an error naming it.
        """
        options = FakeOptions()
        with self.assertRaises(usage.UsageError) as caught:
            parse_with_config_file(
                options, ["--config", "/nonexistent/x.toml"], options_parse(options)
            )
        self.assertIn(
            "cannot read config file /nonexistent/x.toml", str(caught.exception)
        )


class PrecedenceTests(ConfigTestCase):
    """
    The command line wins over the file.
    """

    def test_command_line_wins(self) -> None:
        """
        A parameter on the command line keeps its value.
        """
        options = self.parse('realm = "file"\n', "--realm", "command-line")
        self.assertEqual(options["realm"], "command-line")

    def test_command_line_wins_short_option(self) -> None:
        """
        A short option on the command line wins too.
        """
        options = self.parse("port = 1\n", "-p", "2")
        self.assertEqual(options["port"], "2")

    def test_config_after_option_still_loses(self) -> None:
        """
        The order of C{--config} and the option on the command line does not
        matter.
        """
        options = FakeOptions()
        path = self.write('realm = "file"\n')
        parse_with_config_file(
            options, ["--realm", "cli", "--config", path], options_parse(options)
        )
        self.assertEqual(options["realm"], "cli")

    def test_command_line_replaces_list(self) -> None:
        """
        A repeatable option on the command line replaces the file's list.
        """
        options = self.parse('peer = ["a", "b"]\n', "--peer", "c")
        self.assertEqual(options["peer"], ["c"])

    def test_file_sets_what_command_line_lacks(self) -> None:
        """
        Options only in the file are set next to command-line ones.
        """
        options = self.parse('realm = "file"\n', "--port", "7")
        self.assertEqual(options["realm"], "file")

    def test_unknown_key_rejected_even_when_overridden(self) -> None:
        """
        The whole file is checked, even keys the command line overrides.
        """
        message = self.error('realm = "x"\ncolour = 1\n', "--realm", "y")
        self.assertIn("'colour'", message)

    def test_post_options_error_names_line(self) -> None:
        """
        An error from C{postOptions} about a value from the file names the
        file line it came from.
        """
        message = self.error('realm = "x"\nport = "abc"\n')
        self.assertIn("invalid --port 'abc'", message)
        self.assertIn('line 2: port = "abc"', message)

    def test_post_options_error_from_command_line(self) -> None:
        """
        An error about a command-line value names no file line.
        """
        message = self.error('realm = "x"\n', "--port", "abc")
        self.assertNotIn("line", message)

    def test_no_config_option(self) -> None:
        """
        Without C{--config}, the command line is parsed as usual.
        """
        options = FakeOptions()
        parse_with_config_file(options, ["--realm", "r"], options_parse(options))
        self.assertEqual(options["realm"], "r")


class IniTests(ConfigTestCase):
    """
    Options from an INI file.
    """

    def test_parameter_set(self) -> None:
        """
        A key of the C{[mcs-ice]} section sets the parameter.
        """
        options = self.parse("[mcs-ice]\nrealm = media\n", suffix=".ini")
        self.assertEqual(options["realm"], "media")

    def test_continuation_lines_repeat(self) -> None:
        """
        Indented continuation lines give a repeatable option several values.
        """
        options = self.parse("[mcs-ice]\npeer = a\n    b\n    c\n", suffix=".conf")
        self.assertEqual(options["peer"], ["a", "b", "c"])

    def test_flag_words(self) -> None:
        """
        C{yes}, C{on}, C{true} and C{1} set a flag.
        """
        for word in ("yes", "on", "true", "1"):
            options = self.parse(f"[mcs-ice]\nverbose = {word}\n", suffix=".ini")
            self.assertTrue(options["verbose"], word)

    def test_flag_not_boolean_names_line(self) -> None:
        """
        Another word for a flag is an error naming the key, value and line.
        """
        message = self.error("[mcs-ice]\n\nverbose = perhaps\n", suffix=".ini")
        self.assertIn("verbose = perhaps", message)
        self.assertIn("line 3", message)

    def test_unknown_key_names_line(self) -> None:
        """
        An unknown key is an error naming the key, value and line.
        """
        message = self.error("[mcs-ice]\nrealm = x\ncolour = blue\n", suffix=".ini")
        self.assertIn("'colour' = blue", message)
        self.assertIn("line 3", message)

    def test_missing_section_names_line(self) -> None:
        """
        A key before any section header is an error naming the line.
        """
        message = self.error("# options\nrealm = x\n", suffix=".ini")
        self.assertIn("line 2", message)
        self.assertIn("[mcs-ice]", message)

    def test_unknown_section_names_line(self) -> None:
        """
        Another section is an error naming it and its line.
        """
        message = self.error(
            "[mcs-ice]\nrealm = x\n[server]\nport = 1\n", suffix=".ini"
        )
        self.assertIn("unknown section [server]", message)
        self.assertIn("line 3", message)

    def test_duplicate_key_names_line(self) -> None:
        """
        A key given twice is an error naming the second line.
        """
        message = self.error("[mcs-ice]\nrealm = x\nrealm = y\n", suffix=".ini")
        self.assertIn("line 3", message)
        self.assertIn("realm", message)

    def test_bad_value_names_line(self) -> None:
        """
        A value the handler rejects names the key, the value and the line.
        """
        message = self.error("[mcs-ice]\nrealm = x\npeer = bad\n", suffix=".ini")
        self.assertIn("peer = bad", message)
        self.assertIn("line 3", message)

    def test_not_a_key_line_names_line(self) -> None:
        """
        A line that is not C{key = value} is an error naming it.
        """
        message = self.error("[mcs-ice]\nrealm = x\njust words\n", suffix=".ini")
        self.assertIn("line 3", message)

    def test_percent_kept(self) -> None:
        """
        C{%} is a plain character: there is no interpolation.
        """
        options = self.parse("[mcs-ice]\nrealm = 100%\n", suffix=".ini")
        self.assertEqual(options["realm"], "100%")

    def test_sniffed_without_suffix(self) -> None:
        """
        A file of another suffix is INI when it starts with a section header.
        """
        options = self.parse("# x\n[mcs-ice]\nrealm = y\n", suffix=".txt")
        self.assertEqual(options["realm"], "y")

    def test_toml_without_suffix(self) -> None:
        """
        A file of another suffix is TOML when it starts with a key.
        """
        options = self.parse('realm = "y"\n', suffix="")
        self.assertEqual(options["realm"], "y")


class TapTests(ConfigTestCase):
    """
    C{twistd mcs-ice --config}.
    """

    def tap_parse(self, text: str, *argv: str) -> tap.Options:
        """
        Parse the mcs-ice options with a TOML file of C{text}.
        """
        options = tap.Options()
        options.parseOptions(
            ["--interface", "127.0.0.1", "--config", self.write(text), *argv]
        )
        return options

    def test_sets_udp_port(self) -> None:
        """
        The file sets C{--udp-port}, converted like the command line's.
        """
        options = self.tap_parse("udp-port = 9100\n")
        self.assertEqual(options["udp-port"], 9100)

    def test_sets_repeatable_public_ip(self) -> None:
        """
        A list sets the repeatable C{--public-ip}.
        """
        options = self.tap_parse('public-ip = ["192.0.2.1", "192.0.2.2"]\n')
        self.assertEqual(options["public-ip"], ["192.0.2.1", "192.0.2.2"])

    def test_command_line_wins(self) -> None:
        """
        C{--udp-port} on the command line wins over the file.
        """
        options = self.tap_parse("udp-port = 9100\n", "--udp-port", "9200")
        self.assertEqual(options["udp-port"], 9200)

    def test_empty_api_token_rejected(self) -> None:
        """
        C{api-token = ""} ends the process with the file line, instead of
        turning authentication off.
        """
        with self.assertRaises(SystemExit) as caught:
            self.tap_parse('api-token = ""\n')
        message = str(caught.exception)
        self.assertIn("invalid --api-token: empty", message)
        self.assertIn("line 1: api-token", message)

    def test_bad_value_exits_with_line(self) -> None:
        """
        A bad value ends the process with one line naming the option, the
        value and the file line.
        """
        with self.assertRaises(SystemExit) as caught:
            self.tap_parse('realm = "r"\nudp-port = 70000\n')
        message = str(caught.exception)
        self.assertIn("invalid --udp-port 70000", message)
        self.assertIn("line 2: udp-port = 70000", message)
        self.assertNotIn(os.linesep, message)

    def tap_exit(self, text: str) -> str:
        """
        Return the message that a TOML file of C{text} ends the process with.
        """
        with self.assertRaises(SystemExit) as caught:
            self.tap_parse(text)
        return str(caught.exception)

    def test_unknown_key_one_help_hint(self) -> None:
        """
        The error of an unknown key points to C{--help} once.
        """
        message = self.tap_exit('colour = "blue"\n')
        self.assertEqual(message.count("--help"), 1)

    def test_handler_error_not_repeated(self) -> None:
        """
        A value that an option's handler rejects is named once, without the
        handler's own "invalid --OPTION", and keeps the handler's reason.
        """
        message = self.tap_exit('user = "no-colon"\n')
        self.assertNotIn("invalid --user", message)
        self.assertIn("invalid user = (value hidden)", message)
        self.assertIn("expected NAME:PASSWORD", message)

    def test_integer_string_rejected(self) -> None:
        """
        A TOML string for an integer option is an error naming the file
        line, the key and the value.
        """
        with self.assertRaises(SystemExit) as caught:
            self.tap_parse('realm = "r"\nudp-port = "39010"\n')
        message = str(caught.exception)
        self.assertIn('udp-port = "39010"', message)
        self.assertIn("line 2", message)
        self.assertIn("expected an integer", message)

    def test_integer_ini_digits(self) -> None:
        """
        INI digits set an integer option.
        """
        options = tap.Options()
        path = self.write("[mcs-ice]\nudp-port = 39010\n", suffix=".ini")
        options.parseOptions(["--interface", "127.0.0.1", "--config", path])
        self.assertEqual(options["udp-port"], 39010)

    def test_integer_ini_not_digits(self) -> None:
        """
        An INI integer option with other characters than digits is an error
        naming the line.
        """
        options = tap.Options()
        path = self.write("[mcs-ice]\nmax-sessions = 1e3\n", suffix=".ini")
        with self.assertRaises(SystemExit) as caught:
            options.parseOptions(["--interface", "127.0.0.1", "--config", path])
        message = str(caught.exception)
        self.assertIn("max-sessions = 1e3", message)
        self.assertIn("line 2", message)
        self.assertIn("expected a whole number", message)
