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


def home(demos: list[tuple[UIPage, st.Page]]) -> None:
    """What each installed demo does, a picture the tool made, and a link to its page."""
    manager = plugin_manager()
    st.title("portfolio-ml")
    st.write("Three machine-learning demos as one tool. Each runs offline on a CPU.")
    for page, target in demos:
        picture, text = st.columns([2, 3])
        if page.picture is not None and page.picture.is_file():
            picture.image(str(page.picture))
        text.subheader(page.title)
        text.write(page.summary or f"The {page.title} demo.")
        text.page_link(target, label=f"Open {page.title}", icon=":material/arrow_forward:")
    for problem in manager.problems:
        st.warning(f"plugin {problem.name} not loaded: {problem.message}")
    with st.expander("Installed plugins (for developers)"):
        st.table(
            [
                {"plugin": p.name, "version": p.version or "-", "hooks": ", ".join(p.hooks)}
                for p in manager.plugins()
            ]
        )


def main() -> None:
    st.set_page_config(page_title="portfolio-ml", page_icon=":material/analytics:", layout="wide")
    demos = [
        (page, st.Page(page.render, title=page.title, icon=page.icon or None, url_path=page.name))
        for page in collect_pages(plugin_manager())
    ]
    landing = st.Page(
        lambda: home(demos), title="Home", icon=":material/home:", url_path="home", default=True
    )
    st.navigation([landing, *(target for _, target in demos)]).run()


main()
