"""UI: the Admin pages (variables, pools, users) and the users REST resource they drive."""

from __future__ import annotations

from api_support import PASSWORD, assert_problem
from ui_support import browser, page_data


def test_admin_pages_render_only_for_roles_that_may_use_them(api) -> None:
    allowed = {"/variables": {"op", "admin"}, "/pools": {"viewer", "user", "op", "admin"}, "/users": {"admin"}}
    for role in ("viewer", "user", "op", "admin"):
        b = browser(api, role)
        for path, roles in allowed.items():
            page = b.get(path)
            if role in roles:
                assert page.status_code == 200, (role, path)
                assert '<script src="/static/admin.js">' in page.text
            else:
                assert page.status_code == 403, (role, path)
                assert page.json()["status"] == 403
    assert page_data(browser(api, "viewer").get("/pools").text)["can"] == {"create": False, "edit": False,
                                                                          "delete": False}
    op = page_data(browser(api, "op").get("/pools").text)
    assert op["can"] == {"create": True, "edit": True, "delete": True} and op["me"] == "op_user"
    assert page_data(browser(api, "admin").get("/users").text)["roles"] == ["viewer", "user", "op", "admin"]


def test_variables_through_the_session_with_masking(api) -> None:
    op = browser(api, "op")
    assert op.write("POST", "variables", json={"key": "db_password", "value": "hunter2"}).status_code == 200
    assert op.write("POST", "variables", json={"key": "greeting", "value": "<script>x</script>"}).status_code == 200
    listed = {v["key"]: v["value"] for v in op.get("/api/v1/variables").json()["variables"]}
    assert listed == {"db_password": "***", "greeting": "<script>x</script>"}
    # Editing only the description of a secret keeps its value (the page sends update_mask=description).
    response = op.write("PATCH", "variables/db_password", params={"update_mask": ["description"]},
                        json={"description": "prod"})
    assert response.status_code == 200 and response.json()["value"] == "***"
    from tradewind.persist.queries import variables as var_queries

    with api.client.app.state.db.read_scope() as session:
        row = var_queries.get_variable_row(session, "db_password")
        assert var_queries.variable_value(session, row) == "hunter2" and row.val != "hunter2"  # encrypted at rest
    assert op.write("DELETE", "variables/greeting").status_code == 204
    assert browser(api, "user").write("POST", "variables", json={"key": "k", "value": "v"}).status_code == 403


def test_pools_through_the_session(api) -> None:
    op = browser(api, "op")
    assert op.write("POST", "pools", json={"name": "etl", "slots": 3, "description": "d"}).status_code == 200
    response = op.write("PATCH", "pools/etl", params={"update_mask": ["slots", "description"]},
                        json={"slots": 5, "description": None})
    assert response.status_code == 200 and response.json()["slots"] == 5 and response.json()["open_slots"] == 5
    pools = {p["name"]: p for p in browser(api, "viewer").get("/api/v1/pools", params={"order_by": "name"}).json()["pools"]}
    assert set(pools) == {"default_pool", "etl"} and {"running_slots", "queued_slots", "open_slots"} <= set(pools["etl"])
    assert_problem(op.write("DELETE", "pools/default_pool"), 400)
    assert_problem(op.write("POST", "pools", json={"name": "bad", "slots": -1}), 422, field="slots")
    assert browser(api, "viewer").write("DELETE", "pools/etl").status_code == 403
    assert op.write("DELETE", "pools/etl").status_code == 204


def test_users_resource_crud_and_roles(api) -> None:
    listed = api.get("users").json()
    assert listed["total_entries"] == 4 and [u["username"] for u in listed["users"]][0] == "admin_user"
    admin = listed["users"][0]
    assert admin["roles"] == [{"name": "admin"}] and admin["role"] == "admin" and "password" not in admin
    assert "password_hash" not in str(listed)
    for role in ("viewer", "user", "op"):
        assert api.get("users", as_=role).status_code == 403
        assert api.post("users", json={"username": "x", "password": "p", "role": "viewer"}, as_=role).status_code == 403

    created = api.post("users", json={"username": "ada", "password": "pw-1", "email": "ada@example.com",
                                      "first_name": "Ada", "last_name": "L", "roles": [{"name": "Op"}]})
    assert created.status_code == 200, created.text
    assert created.json()["role"] == "op" and created.json()["email"] == "ada@example.com"
    assert api.client.post("/api/v1/auth/token", json={"username": "ada", "password": "pw-1"}).status_code == 201
    assert_problem(api.post("users", json={"username": "ada", "password": "x", "role": "viewer"}), 409)
    assert_problem(api.post("users", json={"username": "bob", "password": "x", "role": "boss"}), 422, field="role",
                   contains="viewer")
    assert_problem(api.post("users", json={"username": "bob", "password": "x"}), 422, field="roles")
    assert_problem(api.post("users", json={"username": "bob", "password": "x",
                                           "roles": [{"name": "op"}, {"name": "user"}]}), 422, field="roles")
    assert_problem(api.post("users", json={"username": "b ob", "password": "x", "role": "op"}), 422,
                   field="username")
    assert_problem(api.post("users", json={"username": "bob", "role": "op"}), 422, field="password")

    # PATCH: role, names, active; password reset ends old tokens.
    token = api.client.post("/api/v1/auth/token", json={"username": "ada", "password": "pw-1"}).json()["access_token"]
    patched = api.patch("users/ada", json={"role": "viewer", "first_name": "Ada2"})
    assert patched.status_code == 200 and patched.json()["role"] == "viewer" and patched.json()["first_name"] == "Ada2"
    ada = {"Authorization": f"Bearer {token}"}
    assert api.client.post("/api/v1/pools", json={"name": "p", "slots": 1}, headers=ada).status_code == 403
    assert api.patch("users/ada", params={"update_mask": "password"}, json={"password": "pw-2"}).status_code == 200
    assert api.client.get("/api/v1/dags", headers=ada).status_code == 401
    assert api.client.post("/api/v1/auth/token", json={"username": "ada", "password": "pw-2"}).status_code == 201
    assert api.patch("users/ada", json={"active": False}).json()["active"] is False
    assert api.client.post("/api/v1/auth/token", json={"username": "ada", "password": "pw-2"}).status_code == 401
    assert_problem(api.patch("users/ada", json={"username": "eve"}), 400, field="username")
    assert_problem(api.patch("users/ada", params={"update_mask": "password"}, json={}), 400, field="password")
    assert_problem(api.patch("users/ada", params={"update_mask": "hash"}, json={}), 400, field="update_mask")
    assert_problem(api.patch("users/nobody", json={"role": "op"}), 404)

    assert api.delete("users/ada").status_code == 204
    assert_problem(api.get("users/ada"), 404)
    assert_problem(api.delete("users/ada"), 404)
    events = [e["event"] for e in api.get("eventLogs", params={"order_by": "event_log_id"}).json()["event_logs"]]
    assert events.count("user.create") == 1 and events.count("user.delete") == 1 and "user.edit" in events


def test_admins_cannot_lock_themselves_or_everyone_out(api) -> None:
    assert_problem(api.delete("users/admin_user"), 409, contains="your own")
    assert_problem(api.patch("users/admin_user", json={"role": "op"}), 409, contains="your own")
    assert_problem(api.patch("users/admin_user", json={"active": False}), 409, contains="your own")
    assert api.post("users", json={"username": "root2", "password": PASSWORD, "role": "admin"}).status_code == 200
    # Another admin may demote this one while a second admin remains; not the last one.
    assert api.patch("users/root2", json={"role": "op"}).status_code == 200
    token = api.client.post("/api/v1/auth/token", json={"username": "root2", "password": PASSWORD}).json()
    assert api.patch("users/root2", json={"role": "admin"}).status_code == 200
    root2 = {"Authorization": f"Bearer {token['access_token']}"}
    assert api.client.delete("/api/v1/users/admin_user", headers=root2).status_code == 204
    last = api.client.patch("/api/v1/users/root2", json={"role": "op"}, headers=root2)
    assert last.status_code == 409


def test_users_page_drives_the_api_with_the_session(api) -> None:
    admin = browser(api, "admin")
    response = admin.write("POST", "users", json={"username": "<script>u</script>", "password": "pw", "role": "user",
                                                  "email": None, "first_name": "", "last_name": ""})
    assert response.status_code == 200, response.text
    assert "<script>u</script>" not in admin.get("/users").text
    assert admin.client.post("/api/v1/users", json={"username": "z", "password": "p", "role": "user"}).status_code == 403
