"""seeds/001 (Dagger's secrets page), ported to hush: only the imports and the image
(`busybox` for `alpine:latest`) changed."""

import hush
from hush import dag, function, object_type


@object_type
class MyModule:
    @function
    async def show_secret(
        self,
        token: hush.Secret,
    ) -> str:
        return await (
            dag.container()
            .from_("busybox")
            .with_secret_variable("MY_SECRET", token)
            .with_exec(
                [
                    "sh",
                    "-c",
                    ("echo this is the secret: $MY_SECRET"),
                ]
            )
            .stdout()
        )
