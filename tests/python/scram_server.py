"""A scripted SCRAM server (RFC 5802) written with Python's standard library only (hashlib's
PBKDF2 and hmac): an implementation no one here wrote the crypto of, for tests/sasl.rs.

argv: HASH (sha256 | sha512 | sha1) USER PASSWORD SALT_HEX ITERATIONS SERVER_NONCE_SUFFIX
stdin/stdout: one message per line. Reads the client-first-message, answers the
server-first-message; reads the client-final-message, answers the server-final-message
(`v=…` if the proof is right, `e=invalid-proof` if not, `e=unknown-user` for another user).
"""
import base64
import hashlib
import hmac
import sys


def main():
    name, user, password, salt_hex, iterations, suffix = sys.argv[1:]
    iterations = int(iterations)
    salt = bytes.fromhex(salt_hex)
    h = lambda data: hashlib.new(name, data).digest()
    mac = lambda key, data: hmac.new(key, data, name).digest()

    client_first = sys.stdin.readline().rstrip("\n").encode()
    assert client_first.startswith(b"n,,"), client_first
    bare = client_first[3:]
    attrs = dict(a.split(b"=", 1) for a in bare.split(b","))
    got_user = attrs[b"n"].replace(b"=2C", b",").replace(b"=3D", b"=").decode()
    nonce = attrs[b"r"] + suffix.encode()
    server_first = b"r=" + nonce + b",s=" + base64.b64encode(salt) + b",i=" + str(iterations).encode()
    print(server_first.decode(), flush=True)

    client_final = sys.stdin.readline().rstrip("\n").encode()
    without_proof, proof = client_final.rsplit(b",p=", 1)
    assert without_proof == b"c=biws,r=" + nonce, without_proof
    if got_user != user:
        print("e=unknown-user", flush=True)
        return
    salted = hashlib.pbkdf2_hmac(name, password.encode(), salt, iterations)
    client_key = mac(salted, b"Client Key")
    stored_key = h(client_key)
    auth_message = bare + b"," + server_first + b"," + without_proof
    signature = mac(stored_key, auth_message)
    recovered = bytes(a ^ b for a, b in zip(base64.b64decode(proof), signature))
    if h(recovered) != stored_key:
        print("e=invalid-proof", flush=True)
        return
    server_key = mac(salted, b"Server Key")
    print("v=" + base64.b64encode(mac(server_key, auth_message)).decode(), flush=True)


if __name__ == "__main__":
    main()
