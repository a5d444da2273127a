"""seeds/000 (Dagger's secrets cookbook, "Use secret in Dockerfile build"), ported to hush.

Changed from the seed: the imports. The Dockerfile (`../source/Dockerfile`) starts from
`busybox` for `alpine:3.17`, checks for its tools instead of `apk add curl`, and instead of
sending the token to api.github.com (no internet here) proves it got the secret without
printing it: it writes the secret's length to `/secret-proof` (not a hash: a hash of a
secret in an image layer can be brute-forced).

`build_mapped` is the same build through `secret_map`, which takes any secret by mount ID, so
it needs no `set_secret(name, await secret.plaintext())` dance.
"""

from typing import Annotated

import hush
from hush import Doc, dag, function, object_type


@object_type
class MyModule:
    @function
    async def build(
        self,
        source: Annotated[hush.Directory, Doc("The source code to build")],
        secret: Annotated[hush.Secret, Doc("The secret to use in the Dockerfile")],
    ) -> hush.Container:
        """Build a Container from a Dockerfile"""
        # Ensure the Dagger secret's name matches what the Dockerfile
        # expects as the id for the secret mount.
        build_secret = dag.set_secret("gh-secret", await secret.plaintext())
        return source.docker_build(secrets=[build_secret])

    @function
    def build_mapped(
        self,
        source: Annotated[hush.Directory, Doc("The source code to build")],
        secret: Annotated[hush.Secret, Doc("The secret to use in the Dockerfile")],
    ) -> hush.Container:
        """Build a Container from a Dockerfile, giving the secret its mount ID directly"""
        return source.docker_build(secret_map={"gh-secret": secret})
