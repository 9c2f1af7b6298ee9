"""An Airflow connection of type ``fxiaoke`` turned into the client's settings: the parser
(``config``), the table of extras (``extras``) and the connection form built from it (``form``).
No Airflow imports: the parser and provider info load these cheaply."""
