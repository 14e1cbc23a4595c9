-- Prefect and Superset keep their own state apart from the warehouse.
CREATE DATABASE prefect OWNER ctmirror;
CREATE DATABASE superset OWNER ctmirror;
