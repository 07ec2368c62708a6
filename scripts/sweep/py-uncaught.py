# Ends in an uncaught exception (a chained traceback on stderr, exit status 1).
import json


class ConfigError(Exception):
    pass


def load(text):
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError("config is not JSON") from e


def main():
    cfg = load('{"port": 8080}')
    print("port", cfg["port"])
    load("{port: 8080}")


main()
