"""Tests for check_config_doc.py: run with `python3 -m unittest discover -s docs -p 'test_*.py'`."""

from __future__ import annotations

import contextlib
import io
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import check_config_doc as ccd  # noqa: E402

CONFIG_RS = '''
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub cameras: Vec<CameraConfig>,
}

/// `[server]`.
#[derive(Clone, Debug, Deserialize)]
pub struct ServerConfig {
    /// Address.
    #[serde(default = "default_listen")]
    pub listen: String,
}

#[derive(Clone, Debug, Deserialize)]
pub struct CameraConfig {
    pub id: String,
    #[serde(rename = "rtsp_url")]
    pub url: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// Over TCP.
    #[default]
    Tcp,
    Udp,
}

/// Not configuration: no Deserialize.
#[derive(Clone, Debug)]
pub struct Internal {
    pub secret_field: u32,
}

#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);
'''

DOC = '''# Config
Transport is `"tcp"` or `"udp"`.

## Top level — `Config`
| Key | Meaning |
| --- | --- |
| `server` | x |
| `cameras` | x |

## `[server]` — `ServerConfig`
| Key | Meaning |
| --- | --- |
| `listen` | x |

## `[[cameras]]` — `CameraConfig`
| Key | Meaning |
| --- | --- |
| `id` | x |
| `rtsp_url` | x |

## Example
```toml
[server]
listen = "0.0.0.0:8080"

[[cameras]]
id = "door"
rtsp_url = "rtsp://h/p"
```
'''


class Parse(unittest.TestCase):
    def test_structs_fields_renames_and_enums(self):
        structs, enums = ccd.parse_config_rs(CONFIG_RS)
        self.assertEqual(set(structs), {"Config", "ServerConfig", "CameraConfig"})
        self.assertEqual([f.name for f in structs["CameraConfig"].fields], ["id", "rtsp_url"])
        self.assertEqual(structs["Config"].fields[1].ty, "Vec<CameraConfig>")
        self.assertEqual(enums, {"Transport": ["tcp", "udp"]})

    def test_real_config_rs_fields_match_an_independent_count(self):
        source = ccd.read_rust(ccd.DEFAULT_CONFIG_RS)
        structs, _ = ccd.parse_config_rs(source)
        # Every `    pub name: Type,` line at struct-field indentation in the config files belongs to a config
        # struct, except those of `TrackerParams` (the tracker's run-time parameters, not read from TOML) and of
        # `CameraConfig` (parsed from `RawCamera`, whose fields are the written ones).
        for parsed in ("pub struct TrackerParams {", "pub struct CameraConfig {"):
            start = source.index(parsed)
            end = source.index("\n}\n", start)
            source = source[:start] + source[end:]
        expected = sum(1 for line in source.splitlines() if line.startswith("    pub ") and ":" in line and "fn " not in line)
        unique = {id(s): s for s in structs.values()}.values()
        self.assertEqual(sum(len(s.fields) for s in unique), expected)
        self.assertIs(structs["CameraConfig"], structs["RawCamera"], "a try_from struct is checked as its raw form")


class Check(unittest.TestCase):
    def test_complete_doc_passes(self):
        self.assertEqual(ccd.check(CONFIG_RS, DOC), [])

    def test_missing_field_row_is_named(self):
        doc = DOC.replace("| `listen` | x |\n", "")
        problems = ccd.check(CONFIG_RS, doc)
        self.assertEqual(len(problems), 1, problems)
        self.assertIn("ServerConfig.listen", problems[0])

    def test_field_documented_in_the_wrong_section_does_not_count(self):
        # `id` only under [server]: CameraConfig.id is still missing.
        doc = DOC.replace("| `id` | x |\n", "").replace("| `listen` | x |\n", "| `listen` | x |\n| `id` | x |\n")
        problems = ccd.check(CONFIG_RS, doc)
        self.assertTrue(any("CameraConfig.id" in p for p in problems), problems)

    def test_missing_struct_section_is_named(self):
        doc = DOC.replace("## `[server]` — `ServerConfig`", "## Server")
        problems = ccd.check(CONFIG_RS, doc)
        self.assertTrue(any(p.startswith("struct ServerConfig") for p in problems), problems)

    def test_missing_enum_value_is_named(self):
        problems = ccd.check(CONFIG_RS, DOC.replace('or `"udp"`', ""))
        self.assertTrue(any("`udp`" in p for p in problems), problems)

    def test_unknown_example_key_is_named(self):
        doc = DOC.replace('id = "door"', 'id = "door"\ndetect_fsp = 5')
        problems = ccd.check(CONFIG_RS, doc)
        self.assertTrue(any("cameras[0].detect_fsp" in p for p in problems), problems)

    def test_rust_name_of_a_renamed_field_is_not_a_toml_key(self):
        doc = DOC.replace('rtsp_url = "rtsp://h/p"', 'url = "rtsp://h/p"')
        problems = ccd.check(CONFIG_RS, doc)
        self.assertTrue(any("cameras[0].url" in p for p in problems), problems)


class TomlFiles(unittest.TestCase):
    def test_unknown_key_in_a_config_file_is_named(self):
        good = '[server]\nlisten = "x"\n[[cameras]]\nid = "a"\n'
        self.assertEqual(ccd.check_toml_file(CONFIG_RS, good, "f.toml"), [])
        problems = ccd.check_toml_file(CONFIG_RS, good + "enabled = true\n", "f.toml")
        self.assertEqual(len(problems), 1, problems)
        self.assertIn("f.toml", problems[0])
        self.assertIn("cameras[0].enabled", problems[0])

    def test_the_compose_example_config_uses_known_keys(self):
        path = ccd.ROOT / "deploy" / "panoptes.toml"
        problems = ccd.check_toml_file(ccd.read_rust(ccd.DEFAULT_CONFIG_RS), path.read_text(), str(path))
        self.assertEqual(problems, [])


class Main(unittest.TestCase):
    def test_exit_code_and_listing(self):
        with tempfile.TemporaryDirectory() as tmp:
            rs, md = Path(tmp, "config.rs"), Path(tmp, "config.md")
            rs.write_text(CONFIG_RS)
            md.write_text(DOC.replace("| `rtsp_url` | x |\n", ""))
            err = io.StringIO()
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                rc = ccd.main(["--config-rs", str(rs), "--doc", str(md)])
        self.assertEqual(rc, 1)
        self.assertIn("CameraConfig.rtsp_url", err.getvalue())

    def test_the_shipped_doc_passes(self):
        with contextlib.redirect_stdout(io.StringIO()):
            self.assertEqual(ccd.main([]), 0)


if __name__ == "__main__":
    unittest.main()
