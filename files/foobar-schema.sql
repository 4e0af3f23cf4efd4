-- Schema of the www.foobar.com application database.
--
-- Imported ONCE by provision (playbooks/database.yml, mysql_db `import:`) right after the
-- database is created on the PRIMARY, with that database selected. It reaches the replica
-- through the binary log, like every other write. Later schema changes need their own,
-- idempotent migration tasks: this file is never re-imported.

CREATE TABLE IF NOT EXISTS messages (
  id         BIGINT       NOT NULL AUTO_INCREMENT,
  body       VARCHAR(255) NOT NULL,
  served_by  VARCHAR(64)  NOT NULL,
  created_at TIMESTAMP    NOT NULL DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (id),
  KEY messages_body (body),
  KEY messages_created_at (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
