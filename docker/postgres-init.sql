-- Prefect keeps its own state apart from the warehouse.
CREATE DATABASE prefect OWNER ctmirror;
