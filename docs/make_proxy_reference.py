"""Write docs/proxy-reference.md from the proxy registry (run after adding or changing a proxy)."""

from pathlib import Path

from gradnas.proxies.reference import markdown

if __name__ == "__main__":
    out = Path(__file__).with_name("proxy-reference.md")
    out.write_text(markdown())
    print(f"wrote {out}")
