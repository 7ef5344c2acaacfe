# The typical server code of python-socketio's documentation ("The Socket.IO Server":
# event handlers, connect/disconnect, emitting, acks, rooms, sessions, class-based
# namespaces), with only the import changed. test_docs_app.py drives it with the official
# python-socketio client. (python-socketio's docs then mount `sio` in a WSGI/ASGI app; rtio
# serves HTTP itself instead: `sio.run(port=...)`, see docs/python.md.)
import rtio as socketio  # was: import socketio

sio = socketio.Server(cors_allowed_origins="*")


def authenticate_user(environ, auth):
    if auth and auth.get("token") == "letmein":
        return auth.get("username", "anonymous")
    return None


@sio.event
def connect(sid, environ, auth):
    username = authenticate_user(environ, auth)
    if not username:
        raise socketio.exceptions.ConnectionRefusedError("authentication failed")
    with sio.session(sid) as session:
        session["username"] = username
    sio.enter_room(sid, "chat_users")


@sio.event
def disconnect(sid, reason):
    if reason == sio.reason.CLIENT_DISCONNECT:
        print("the client disconnected")
    elif reason == sio.reason.SERVER_DISCONNECT:
        print("the server disconnected the client")
    else:
        print("disconnect reason:", reason)


@sio.event
def my_message(sid, data):
    session = sio.get_session(sid)
    sio.emit("my reply", {"from": session["username"], "data": data}, room="chat_users",
             skip_sid=sid)


@sio.on("my custom event")
def another_event(sid, data):
    return "OK", 123


@sio.event
def begin_chat(sid):
    sio.enter_room(sid, "chat_users")


@sio.event
def exit_chat(sid):
    sio.leave_room(sid, "chat_users")


@sio.on("*")
def any_event(event, sid, data):
    return f"unhandled {event}"


@sio.event
def ask_client(sid):
    # emit with a callback, and call(), from a handler
    def cb(*answer):
        sio.emit("callback got", answer, to=sid)

    sio.emit("question", "first?", to=sid, callback=cb)
    return sio.call("question", "second?", to=sid, timeout=5)


class MyCustomNamespace(socketio.Namespace):
    def on_connect(self, sid, environ):
        pass

    def on_disconnect(self, sid, reason):
        pass

    def on_my_event(self, sid, data):
        self.emit("my_response", data)


sio.register_namespace(MyCustomNamespace("/test"))
