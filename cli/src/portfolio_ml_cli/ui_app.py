"""The Streamlit script behind ``portfolio-ml ui``: one page per installed plugin.

Pages come from the ``register_ui_pages`` hook, so a demo that is not installed has no page.
Streamlit re-runs this script on every interaction; the plugin manager is built once per server.
"""

from __future__ import annotations

import streamlit as st
from portfolio_ml_core.ui import UIPage, UIPageRegistry

from portfolio_ml_cli.plugins import PortfolioPluginManager, create_plugin_manager


@st.cache_resource
def plugin_manager() -> PortfolioPluginManager:
    return create_plugin_manager()


def collect_pages(manager: PortfolioPluginManager) -> list[UIPage]:
    registry = UIPageRegistry()
    manager.call_each("register_ui_pages", registry=registry)
    return registry.ordered()


def home() -> None:
    manager = plugin_manager()
    st.title("portfolio-ml")
    st.write("Three machine-learning demos as one tool. Pick a demo in the sidebar.")
    rows = [
        {"plugin": p.name, "version": p.version or "-", "hooks": ", ".join(p.hooks)}
        for p in manager.plugins()
    ]
    st.table(rows)
    for problem in manager.problems:
        st.warning(f"plugin {problem.name} not loaded: {problem.message}")


def main() -> None:
    st.set_page_config(page_title="portfolio-ml", page_icon="📊", layout="wide")
    pages = [st.Page(home, title="Home", icon="🏠", url_path="home", default=True)]
    pages += [
        st.Page(page.render, title=page.title, icon=page.icon or None, url_path=page.name)
        for page in collect_pages(plugin_manager())
    ]
    st.navigation(pages).run()


main()
