"""The language core: text to checked IR. textX is used for syntax only;
nothing here imports Jinja2, click, storage or HTTP."""
